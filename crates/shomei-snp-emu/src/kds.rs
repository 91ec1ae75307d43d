//! A KDS-compatible HTTP server for emulated chips: the same URL shapes as AMD's KDS
//! (`/vcek/v1/{P}/{hwid}?[fmcSPL&]blSPL&teeSPL&snpSPL&ucodeSPL`, `/{vcek|vlek}/v1/{P}/cert_chain`,
//! `/{vcek|vlek}/v1/{P}/crl`), so `shomei-kds` and `shomei snp fetch` run unchanged against it.
//! A VCEK is derived for whatever TCB is asked, as AMD does. Plain HTTP on 127.0.0.1, std only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use shomei_core::UnixTime;
use shomei_snp::{Product, Tcb};

use crate::{EmuError, EmulatedChip};

/// What the server knows: chips (for VCEKs) and the serials its CRLs revoke.
pub struct KdsState {
    pub chips: Vec<Arc<EmulatedChip>>,
    /// Intermediate serials the ARK-signed CRL lists.
    pub revoked_intermediates: Vec<Vec<u8>>,
    /// CRL validity.
    pub crl_this_update: UnixTime,
    pub crl_next_update: UnixTime,
}

/// A running server; stops when dropped.
pub struct EmulatedKds {
    pub url: String,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Every request path served, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Drop for EmulatedKds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn spl(query: &str, name: &str) -> Option<u8> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
}

fn respond(state: &KdsState, path: &str) -> Result<(u16, Vec<u8>), EmuError> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [kind, "v1", product, leaf] = parts.as_slice() else {
        return Ok((404, b"not found".to_vec()));
    };
    let Some(product) = Product::from_product_name(product) else {
        return Ok((404, b"unknown product".to_vec()));
    };
    let Some(chip) = state.chips.iter().find(|c| c.product() == product) else {
        return Ok((404, b"no emulated chip of this product".to_vec()));
    };
    let root = chip.root();
    let vlek = *kind == "vlek";
    match *leaf {
        "cert_chain" => {
            let inter = if vlek { &root.asvk } else { &root.ask };
            let mut pem = shomei_core::x509::pem_encode("CERTIFICATE", inter.der())?;
            pem.push_str(&shomei_core::x509::pem_encode(
                "CERTIFICATE",
                root.ark.der(),
            )?);
            Ok((200, pem.into_bytes()))
        }
        "crl" => {
            let revoked: Vec<&[u8]> = state
                .revoked_intermediates
                .iter()
                .map(Vec::as_slice)
                .collect();
            let crl = root.crl(&revoked, state.crl_this_update, Some(state.crl_next_update))?;
            Ok((200, crl.der().to_vec()))
        }
        hwid if !vlek => {
            let n = product.hwid_len();
            let want = hex::decode(hwid).unwrap_or_default();
            let Some(chip) = state
                .chips
                .iter()
                .find(|c| c.product() == product && c.chip_id().get(..n) == Some(want.as_slice()))
            else {
                return Ok((404, b"unknown hwid".to_vec()));
            };
            let (Some(bl), Some(tee), Some(snp), Some(ucode)) = (
                spl(query, "blSPL"),
                spl(query, "teeSPL"),
                spl(query, "snpSPL"),
                spl(query, "ucodeSPL"),
            ) else {
                return Ok((400, b"missing SPL parameters".to_vec()));
            };
            let fmc = spl(query, "fmcSPL");
            if product.has_fmc() && fmc.is_none() {
                return Ok((400, b"missing fmcSPL".to_vec()));
            }
            let tcb = Tcb {
                fmc: if product.has_fmc() { fmc } else { None },
                bootloader: bl,
                tee,
                snp,
                microcode: ucode,
            };
            Ok((200, chip.vcek_for(&tcb)?.certificate.der().to_vec()))
        }
        _ => Ok((404, b"not found".to_vec())),
    }
}

fn serve(state: &KdsState, mut stream: TcpStream, log: &Mutex<Vec<String>>) {
    let mut line = String::new();
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    if reader.by_ref().take(8192).read_line(&mut line).is_err() {
        return;
    }
    // Drain the headers.
    let mut h = String::new();
    while reader
        .by_ref()
        .take(8192)
        .read_line(&mut h)
        .is_ok_and(|n| n > 2)
    {
        h.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    if let Ok(mut l) = log.lock() {
        l.push(path.clone());
    }
    let (status, body) = respond(state, &path).unwrap_or((500, b"emulator error".to_vec()));
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

impl EmulatedKds {
    /// Starts a server on 127.0.0.1 (an ephemeral port).
    pub fn start(state: KdsState) -> Result<Self, EmuError> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| EmuError::Launch(format!("bind: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| EmuError::Launch(format!("bind: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, log) = (Arc::clone(&stop), Arc::clone(&requests));
        let handle = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    serve(&state, s, &log);
                }
            }
        });
        Ok(Self {
            url: format!("http://{addr}"),
            stop,
            handle: Some(handle),
            requests,
        })
    }
}
