//! The TPM client against swtpm (started here on fresh state, stopped by PID after
//! TPM2_Shutdown): PCR read/extend, AKs as endorsement primaries, quotes that the verifier
//! accepts, and the EK certificate from NV chaining to swtpm's local CA and certifying the EK.
//! Needs swtpm and swtpm-tools (scripts/test installs them).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use shomei_attester::tpm::{AkTemplate, Tpm};
use shomei_core::UnixTime;
use shomei_tpm::ekca::{EkCaStore, read_certificates};
use shomei_tpm::{AnySignature, AttestationKey, HashAlg, PcrValues, QuoteOptions, verify_quote};

struct Swtpm {
    dir: PathBuf,
    port: u16,
    pid: Option<String>,
}

fn free_ports() -> (u16, u16) {
    for _ in 0..100 {
        let p = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return (p, p + 1);
        }
    }
    panic!("no two adjacent free ports");
}

impl Swtpm {
    fn start() -> Self {
        let ok = Command::new("sh")
            .args(["-c", "command -v swtpm && command -v swtpm_setup"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "swtpm is not installed: apt-get install -y swtpm swtpm-tools (scripts/test does)"
        );
        let dir = std::env::temp_dir().join(format!("shomei-attester-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("swtpm_setup")
            .args(["--tpm2", "--tpmstate"])
            .arg(&dir)
            .args(["--create-ek-cert", "--pcr-banks", "sha256", "--overwrite"])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let (p, c) = free_ports();
        let pidfile = dir.join("swtpm.pid");
        let st = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", dir.display()))
            .arg("--server")
            .arg(format!("type=tcp,port={p},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={c},bindaddr=127.0.0.1"))
            .args([
                "--flags",
                "not-need-init,startup-clear",
                "--daemon",
                "--pid",
            ])
            .arg(format!("file={}", pidfile.display()))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let pid = std::fs::read_to_string(&pidfile)
            .ok()
            .map(|s| s.trim().to_owned());
        Self { dir, port: p, pid }
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        if let Ok(mut t) = Tpm::connect_swtpm("127.0.0.1", self.port) {
            let _ = t.shutdown();
        }
        if let Some(pid) = &self.pid {
            let _ = Command::new("kill").arg(pid).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256(d: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, d)
        .as_ref()
        .to_vec()
}

#[test]
fn client_quotes_verify_credentials_activate_and_the_ek_certificate_chains() {
    let s = Swtpm::start();
    let mut t = Tpm::connect_swtpm("127.0.0.1", s.port).unwrap();

    let before = t.pcr_read(HashAlg::Sha256, &[16]).unwrap();
    assert_eq!(before, vec![(16, vec![0u8; 32])]);
    let d = sha256(b"shomei attester");
    t.pcr_extend(16, HashAlg::Sha256, &d).unwrap();
    let after = t.pcr_read(HashAlg::Sha256, &[16]).unwrap();
    assert_eq!(after[0].1, sha256(&[vec![0u8; 32], d].concat()));

    let indices: Vec<u32> = (0..24).collect();
    for kind in [AkTemplate::Rsa, AkTemplate::Ecc] {
        let ak = t.create_ak(kind).unwrap();
        let nonce = b"attester nonce".to_vec();
        let (msg, sig) = t
            .quote(ak.handle, &nonce, HashAlg::Sha256, &indices)
            .unwrap();
        let values = t.pcr_read(HashAlg::Sha256, &indices).unwrap();
        assert_eq!(values.len(), 24);
        let mut pcrs = PcrValues::default();
        for (i, v) in values {
            pcrs.insert(HashAlg::Sha256, i, v);
        }
        let key = AttestationKey::from_tpm2b_public(&ak.public).unwrap();
        assert_eq!(key.name.as_deref().unwrap(), ak.name.as_slice());
        let q = verify_quote(
            &msg,
            &AnySignature::detect(&sig),
            &key,
            &nonce,
            &pcrs,
            &QuoteOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(
            q.selection().describe(),
            format!(
                "sha256:{}",
                (0..24)
                    .map(|i: u32| i.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        );
        t.flush(ak.handle).unwrap();
    }

    // Credential activation: made by the verifier for the RSA AK's name, recovered by the TPM.
    let ek = t.create_ek().unwrap();
    let ak = t.create_ak(AkTemplate::Rsa).unwrap();
    let other = t.create_ak(AkTemplate::Ecc).unwrap();
    t.flush(other.handle).unwrap();
    let ek_public = shomei_tpm::Public::parse_tpm2b(&ek.public).unwrap();
    let secret = b"0123456789abcdef0123456789abcdef";
    let cred = shomei_tpm::credential::make_credential(&ek_public, &ak.name, secret).unwrap();
    assert_eq!(
        t.activate_credential(ak.handle, ek.handle, &cred).unwrap(),
        secret
    );
    let for_other =
        shomei_tpm::credential::make_credential(&ek_public, &other.name, secret).unwrap();
    assert!(
        t.activate_credential(ak.handle, ek.handle, &for_other)
            .is_err()
    );
    t.flush(ak.handle).unwrap();
    t.flush(ek.handle).unwrap();
    let cert = t.nv_read(0x01C0_0002).unwrap();
    let ca = Path::new("/var/lib/swtpm-localca");
    let mut store = EkCaStore::new();
    store
        .add(&std::fs::read(ca.join("swtpm-localca-rootca-cert.pem")).unwrap())
        .unwrap();
    let inter = read_certificates(&std::fs::read(ca.join("issuercert.pem")).unwrap()).unwrap();
    let v = store.verify(&cert, &inter, UnixTime::now()).unwrap();
    v.certifies(&AttestationKey::from_tpm2b_public(&ek.public).unwrap())
        .unwrap();
}
