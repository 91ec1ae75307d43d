//! Reading evidence and collateral files given on the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use shomei_core::x509::{Certificate, Crl, parse_certificates};
use shomei_snp::{Collateral, REPORT_LEN, certtable};

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads a large file (a firmware image) with one thread per core, each filling its own part of
/// the buffer: the page faults and copies of a multi-megabyte read then run in parallel.
pub fn read_large(path: &Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let len = usize::try_from(file.metadata()?.len()).context("file too large")?;
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8);
    if threads == 1 || len < (1 << 20) {
        return read(path);
    }
    let mut buf = vec![0u8; len];
    let part = len.div_ceil(threads);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = buf
            .chunks_mut(part)
            .enumerate()
            .map(|(i, chunk)| {
                let file = &file;
                scope.spawn(move || {
                    file.read_exact_at(chunk, u64::try_from(i * part).unwrap_or(u64::MAX))
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("reader thread failed"))?
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        Ok(())
    })?;
    Ok(buf)
}

/// Reads an SNP report: the raw 1184 bytes, the same as hex text, or an Azure HCL report
/// (`HCLA` header, report at 0x20).
pub fn report(path: &Path) -> Result<Vec<u8>> {
    let bytes = read(path)?;
    if bytes.starts_with(b"HCLA") {
        return bytes
            .get(0x20..0x20 + REPORT_LEN)
            .map(<[u8]>::to_vec)
            .with_context(|| format!("{}: HCL report too short", path.display()));
    }
    if bytes.len() != REPORT_LEN {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(decoded) = shomei_core::hexfmt::decode(text) {
                if decoded.len() == REPORT_LEN {
                    return Ok(decoded);
                }
            }
        }
    }
    Ok(bytes)
}

fn is_crl(bytes: &[u8], path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    ext.eq_ignore_ascii_case("crl") || bytes.windows(19).any(|w| w == b"-----BEGIN X509 CRL")
}

/// Adds the contents of one collateral file: a certificate table, CRL, PEM bundle or DER cert.
pub fn add_file(c: &mut Collateral, path: &Path) -> Result<()> {
    let bytes = read(path)?;
    if certtable::looks_like_table(&bytes) {
        let entries = certtable::parse(&bytes)
            .with_context(|| format!("{}: certificate table", path.display()))?;
        let t = certtable::to_collateral(&entries)
            .with_context(|| format!("{}: certificate table", path.display()))?;
        c.certificates.extend(t.certificates);
        c.crls.extend(t.crls);
    } else if is_crl(&bytes, path) {
        c.crls.push(
            Crl::from_der_or_pem(&bytes).with_context(|| format!("{}: CRL", path.display()))?,
        );
    } else {
        let certs: Vec<Certificate> = parse_certificates(&bytes)
            .with_context(|| format!("{}: certificate", path.display()))?;
        c.certificates.extend(certs);
    }
    Ok(())
}

/// Adds a file, or every regular non-hidden file of a directory.
pub fn add_path(c: &mut Collateral, path: &Path) -> Result<()> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{}: no certificate files in the directory", path.display());
        }
        for f in files {
            add_file(c, &f)?;
        }
        Ok(())
    } else {
        add_file(c, path)
    }
}

/// Hex from the command line.
pub fn hex_arg(s: &str, what: &str) -> Result<Vec<u8>> {
    shomei_core::hexfmt::decode(s).with_context(|| format!("{what}: not hex: {s:?}"))
}
