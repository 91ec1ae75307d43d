//! Reading evidence and collateral files given on the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use shomei_core::x509::{Certificate, Crl, parse_certificates};
use shomei_snp::{Collateral, REPORT_LEN, certtable};

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
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
