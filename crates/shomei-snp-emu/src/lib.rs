//! An emulated AMD Secure Processor, so that every SNP flow runs on machines without SNP:
//! a **test** root of trust (ARK → ASK and ASVK → VCEK/VLEK) issued with AMD's names, serial
//! scheme, extension OIDs and RSA-PSS profile — including AMD's quirks (explicit PSS
//! trailerField, VCEK serial 0, no basicConstraints on the VEK) so the real verifier path is
//! exercised — CRLs signed by the ARK, and attestation reports signed like the firmware signs
//! them (ECDSA P-384, little-endian r and s).
//!
//! A test root is never trusted by default: a verifier must add it to its
//! [`shomei_snp::TrustAnchors`] explicitly ([`TestRoot::anchors`]).

use std::str::FromStr;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use der::asn1::{BitString, Ia5String, ObjectIdentifier, OctetString, UtcTime};
use der::{Any, Encode, Tag};
use shomei_core::UnixTime;
use shomei_core::x509::{
    Certificate, Crl, OID_EC_PUBLIC_KEY, OID_P384, OID_RSA_ENCRYPTION, OID_RSASSA_PSS, pem_encode,
};
use shomei_snp::certs::{
    OID_BL_SPL, OID_CSP_ID, OID_FMC_SPL, OID_HWID, OID_PRODUCT_NAME, OID_SNP_SPL,
    OID_STRUCT_VERSION, OID_TEE_SPL, OID_UCODE_SPL,
};
use shomei_snp::{AmdRoot, Product, REPORT_LEN, SIGNED_LEN, Tcb, TrustAnchors};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{TbsCertificate, Version};

/// Errors of the emulator (key generation or encoding failures).
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error("key generation or signing failed")]
    Crypto,
    #[error("encoding: {0}")]
    Der(#[from] der::Error),
    #[error("certificate: {0}")]
    X509(#[from] shomei_core::x509::X509Error),
    #[error("launch: {0}")]
    Launch(String),
}

/// `RSASSA-PSS-params` for SHA-384, MGF1-SHA-384, salt 48, with or without AMD's explicit
/// `trailerField [3] INTEGER 1`.
fn pss_params(explicit_trailer: bool) -> Vec<u8> {
    let mut body = vec![
        0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x30,
    ];
    if explicit_trailer {
        body.extend_from_slice(&[0xa3, 0x03, 0x02, 0x01, 0x01]);
    }
    body
}

fn pss_alg(explicit_trailer: bool) -> Result<AlgorithmIdentifierOwned, EmuError> {
    Ok(AlgorithmIdentifierOwned {
        oid: OID_RSASSA_PSS,
        parameters: Some(Any::new(Tag::Sequence, pss_params(explicit_trailer))?),
    })
}

fn amd_name(cn: &str) -> Result<Name, EmuError> {
    // RFC 4514 order is reversed: AMD's DN is OU, C, L, ST, O, CN.
    Ok(Name::from_str(&format!(
        "CN={cn},O=Advanced Micro Devices,ST=CA,L=Santa Clara,C=US,OU=Engineering"
    ))?)
}

fn time(t: UnixTime) -> Result<Time, EmuError> {
    let secs = u64::try_from(t.secs()).map_err(|_| EmuError::Crypto)?;
    Ok(Time::UtcTime(UtcTime::from_unix_duration(
        Duration::from_secs(secs),
    )?))
}

fn rsa_spki(key: &RsaKeyPair) -> Result<SubjectPublicKeyInfoOwned, EmuError> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_RSA_ENCRYPTION,
            parameters: Some(Any::new(Tag::Null, Vec::<u8>::new())?),
        },
        subject_public_key: BitString::from_bytes(key.public_key().as_ref())?,
    })
}

fn ec_spki(key: &EcdsaKeyPair) -> Result<SubjectPublicKeyInfoOwned, EmuError> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some(Any::encode_from(&OID_P384)?),
        },
        subject_public_key: BitString::from_bytes(key.public_key().as_ref())?,
    })
}

fn ext(oid: ObjectIdentifier, value: Vec<u8>) -> Result<Extension, EmuError> {
    Ok(Extension {
        extn_id: oid,
        critical: false,
        extn_value: OctetString::new(value)?,
    })
}

fn int_ext(oid: ObjectIdentifier, v: u8) -> Result<Extension, EmuError> {
    ext(oid, v.to_der()?)
}

fn pss_sign(key: &RsaKeyPair, msg: &[u8]) -> Result<Vec<u8>, EmuError> {
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &signature::RSA_PSS_SHA384,
        &SystemRandom::new(),
        msg,
        &mut sig,
    )
    .map_err(|_| EmuError::Crypto)?;
    Ok(sig)
}

/// Signs a TBS with the issuer's RSA key and returns the certificate.
fn sign_cert(
    tbs: TbsCertificate,
    issuer: &RsaKeyPair,
    alg: AlgorithmIdentifierOwned,
) -> Result<Certificate, EmuError> {
    let tbs_der = tbs.to_der()?;
    let sig = pss_sign(issuer, &tbs_der)?;
    let cert = x509_cert::Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(Certificate::from_der(&cert.to_der()?)?)
}

/// How a test root is issued.
#[derive(Debug, Clone, Copy)]
pub struct RootOptions {
    /// RSA modulus size of the ARK, ASK and ASVK (AMD uses 4096; 2048 is quicker for tests).
    pub rsa_bits: KeySizeOpt,
    /// Validity of every certificate.
    pub not_before: UnixTime,
    pub not_after: UnixTime,
}

/// RSA key sizes the emulator can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySizeOpt {
    Rsa2048,
    Rsa4096,
}

impl Default for RootOptions {
    fn default() -> Self {
        Self {
            rsa_bits: KeySizeOpt::Rsa2048,
            not_before: UnixTime::from_secs(1_600_000_000), // 2020-09
            not_after: UnixTime::from_secs(2_400_000_000),  // 2046-01
        }
    }
}

/// A test ARK with its ASK and ASVK, and the private keys to issue VEKs and CRLs.
pub struct TestRoot {
    pub product: Product,
    ark_key: RsaKeyPair,
    ask_key: RsaKeyPair,
    asvk_key: RsaKeyPair,
    pub ark: Certificate,
    pub ask: Certificate,
    pub asvk: Certificate,
    opts: RootOptions,
}

/// An issued VCEK or VLEK with its private key.
pub struct TestVek {
    pub certificate: Certificate,
    key: EcdsaKeyPair,
}

/// What goes into a VEK certificate.
#[derive(Debug, Clone)]
pub struct VekSpec {
    pub tcb: Tcb,
    /// VCEK: the hwID (64 bytes, or 8 on Turin). `None` issues a VLEK.
    pub hwid: Option<Vec<u8>>,
    /// VLEK only.
    pub csp_id: Option<String>,
    /// Wrap the hwID in a DER OCTET STRING (some issuers do) instead of AMD's raw bytes.
    pub wrap_hwid: bool,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
}

impl TestRoot {
    /// Generates a fresh root for `product`.
    pub fn generate(product: Product, opts: RootOptions) -> Result<Self, EmuError> {
        let size = match opts.rsa_bits {
            KeySizeOpt::Rsa2048 => KeySize::Rsa2048,
            KeySizeOpt::Rsa4096 => KeySize::Rsa4096,
        };
        let keygen = || RsaKeyPair::generate(size).map_err(|_| EmuError::Crypto);
        let (ark_key, ask_key, asvk_key) = (keygen()?, keygen()?, keygen()?);
        let p = product.kds_name();
        let base = u32::from(match product {
            Product::Milan => 1u8,
            Product::Genoa => 2,
            Product::Turin => 3,
            Product::Venice => 4,
        }) << 16;
        let validity = Validity {
            not_before: time(opts.not_before)?,
            not_after: time(opts.not_after)?,
        };
        let ark_name = amd_name(&format!("ARK-{p}"))?;
        let ca_tbs = |serial: u32, subject: Name, spki| -> Result<TbsCertificate, EmuError> {
            Ok(TbsCertificate {
                version: Version::V3,
                serial_number: SerialNumber::from(serial),
                signature: pss_alg(true)?,
                issuer: ark_name.clone(),
                validity,
                subject,
                subject_public_key_info: spki,
                issuer_unique_id: None,
                subject_unique_id: None,
                extensions: None,
            })
        };
        let ark = sign_cert(
            ca_tbs(base, ark_name.clone(), rsa_spki(&ark_key)?)?,
            &ark_key,
            pss_alg(true)?,
        )?;
        let ask = sign_cert(
            ca_tbs(
                base | 1,
                amd_name(&format!("SEV-{p}"))?,
                rsa_spki(&ask_key)?,
            )?,
            &ark_key,
            pss_alg(true)?,
        )?;
        let asvk = sign_cert(
            ca_tbs(
                base | 0x101,
                amd_name(&format!("SEV-VLEK-{p}"))?,
                rsa_spki(&asvk_key)?,
            )?,
            &ark_key,
            pss_alg(true)?,
        )?;
        Ok(Self {
            product,
            ark_key,
            ask_key,
            asvk_key,
            ark,
            ask,
            asvk,
            opts,
        })
    }

    /// The root as PEM: ARK, ASK, ASVK certificates then their PKCS#8 private keys (labelled
    /// `ARK PRIVATE KEY`, …) — so that an emulated platform keeps one root across runs (its
    /// certificates are what a verifier is told to trust). Test material only.
    pub fn to_pem_with_keys(&self) -> Result<String, EmuError> {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        let mut out = String::new();
        for c in [&self.ark, &self.ask, &self.asvk] {
            out.push_str(&pem_encode("CERTIFICATE", c.der()).map_err(|_| EmuError::Crypto)?);
        }
        for (label, k) in [
            ("ARK PRIVATE KEY", &self.ark_key),
            ("ASK PRIVATE KEY", &self.ask_key),
            ("ASVK PRIVATE KEY", &self.asvk_key),
        ] {
            let der: Pkcs8V1Der<'_> = k.as_der().map_err(|_| EmuError::Crypto)?;
            out.push_str(&pem_encode(label, der.as_ref()).map_err(|_| EmuError::Crypto)?);
        }
        Ok(out)
    }

    /// Reads what [`TestRoot::to_pem_with_keys`] wrote; the validity is the certificates'.
    pub fn from_pem_with_keys(pem: &str) -> Result<Self, EmuError> {
        let bad = |w: &str| EmuError::Launch(format!("test root: {w}"));
        let root = AmdRoot::from_bundle(pem.as_bytes()).map_err(|e| bad(&e))?;
        let key = |label: &str| -> Result<RsaKeyPair, EmuError> {
            let blocks = shomei_core::x509::pem_blocks(pem.as_bytes(), label)
                .map_err(|e| bad(&e.to_string()))?;
            let der = blocks.first().ok_or_else(|| bad(&format!("no {label}")))?;
            RsaKeyPair::from_pkcs8(der)
                .map_err(|_| bad(&format!("{label} is not an RSA PKCS#8 key")))
        };
        let (ark_key, ask_key, asvk_key) = (
            key("ARK PRIVATE KEY")?,
            key("ASK PRIVATE KEY")?,
            key("ASVK PRIVATE KEY")?,
        );
        let spki_bits = root
            .ark
            .decoded()
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        if ark_key.public_key().as_ref() != spki_bits {
            return Err(bad("the ARK key is not the ARK certificate's"));
        }
        let opts = RootOptions {
            rsa_bits: if ark_key.public_modulus_len() >= 512 {
                KeySizeOpt::Rsa4096
            } else {
                KeySizeOpt::Rsa2048
            },
            not_before: root.ark.not_before(),
            not_after: root.ark.not_after(),
        };
        Ok(Self {
            product: root.product,
            ark_key,
            ask_key,
            asvk_key,
            ark: root.ark,
            ask: root.ask,
            asvk: root.asvk,
            opts,
        })
    }

    /// Trust anchors holding only this root — what an operator names explicitly to trust it.
    pub fn anchors(&self) -> Result<TrustAnchors, EmuError> {
        Ok(TrustAnchors::empty().with_root(AmdRoot::new(
            self.product,
            self.ark.clone(),
            self.ask.clone(),
            self.asvk.clone(),
        )?))
    }

    /// A VEK spec valid for the root's lifetime.
    pub fn vcek_spec(&self, tcb: Tcb, hwid: Vec<u8>) -> VekSpec {
        VekSpec {
            tcb,
            hwid: Some(hwid),
            csp_id: None,
            wrap_hwid: false,
            not_before: self.opts.not_before,
            not_after: self.opts.not_after,
        }
    }

    /// Issues a VCEK (spec.hwid set, signed by the ASK) or a VLEK (signed by the ASVK).
    pub fn issue_vek(&self, spec: &VekSpec) -> Result<TestVek, EmuError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .map_err(|_| EmuError::Crypto)?;
        let key =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref())
                .map_err(|_| EmuError::Crypto)?;
        self.issue_vek_for(spec, key)
    }

    /// Issues a VCEK or VLEK certificate for `key`.
    pub fn issue_vek_for(&self, spec: &VekSpec, key: EcdsaKeyPair) -> Result<TestVek, EmuError> {
        let p = self.product;
        let is_vlek = spec.hwid.is_none();
        let (issuer, issuer_key, cn) = if is_vlek {
            (&self.asvk, &self.asvk_key, "SEV-VLEK")
        } else {
            (&self.ask, &self.ask_key, "SEV-VCEK")
        };
        let t = spec.tcb;
        let mut exts = vec![
            int_ext(OID_STRUCT_VERSION, u8::from(p.has_fmc()))?,
            ext(
                OID_PRODUCT_NAME,
                Ia5String::new(if p == Product::Milan {
                    "Milan-B0"
                } else {
                    p.kds_name()
                })?
                .to_der()?,
            )?,
            int_ext(OID_BL_SPL, t.bootloader)?,
            int_ext(OID_TEE_SPL, t.tee)?,
            int_ext(OID_SNP_SPL, t.snp)?,
        ];
        if !p.has_fmc() {
            for n in 4..=7u32 {
                let oid = ObjectIdentifier::new(&format!("1.3.6.1.4.1.3704.1.3.{n}"))
                    .map_err(|_| EmuError::Crypto)?;
                exts.push(int_ext(oid, 0)?);
            }
        }
        exts.push(int_ext(OID_UCODE_SPL, t.microcode)?);
        if let Some(fmc) = t.fmc {
            exts.push(int_ext(OID_FMC_SPL, fmc)?);
        }
        if let Some(h) = &spec.hwid {
            let v = if spec.wrap_hwid {
                OctetString::new(h.clone())?.to_der()?
            } else {
                h.clone()
            };
            exts.push(ext(OID_HWID, v)?);
        }
        if let Some(csp) = &spec.csp_id {
            exts.push(ext(OID_CSP_ID, Ia5String::new(csp)?.to_der()?)?);
        }
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::from(0u32),
            signature: pss_alg(false)?,
            issuer: issuer.decoded().tbs_certificate.subject.clone(),
            validity: Validity {
                not_before: time(spec.not_before)?,
                not_after: time(spec.not_after)?,
            },
            subject: amd_name(cn)?,
            subject_public_key_info: ec_spki(&key)?,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(exts),
        };
        Ok(TestVek {
            certificate: sign_cert(tbs, issuer_key, pss_alg(false)?)?,
            key,
        })
    }

    /// A CRL signed by the ARK listing `revoked` serials (content bytes).
    pub fn crl(
        &self,
        revoked: &[&[u8]],
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    ) -> Result<Crl, EmuError> {
        self.crl_signed_by(&self.ark_key, revoked, this_update, next_update)
    }

    /// A CRL issued and signed by the ASK (`vlek`: the ASVK), listing VEK serials.
    pub fn intermediate_crl(
        &self,
        vlek: bool,
        revoked: &[&[u8]],
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    ) -> Result<Crl, EmuError> {
        let (key, issuer) = if vlek {
            (&self.asvk_key, &self.asvk)
        } else {
            (&self.ask_key, &self.ask)
        };
        self.crl_from(key, issuer, revoked, this_update, next_update)
    }

    /// A CRL with the ARK's name but signed by the ASK's key (a forgery, for negative tests).
    pub fn forged_crl(
        &self,
        this_update: UnixTime,
        next_update: UnixTime,
    ) -> Result<Crl, EmuError> {
        self.crl_signed_by(&self.ask_key, &[], this_update, Some(next_update))
    }

    fn crl_signed_by(
        &self,
        key: &RsaKeyPair,
        revoked: &[&[u8]],
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    ) -> Result<Crl, EmuError> {
        self.crl_from(key, &self.ark, revoked, this_update, next_update)
    }

    fn crl_from(
        &self,
        key: &RsaKeyPair,
        issuer: &Certificate,
        revoked: &[&[u8]],
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    ) -> Result<Crl, EmuError> {
        let revoked_certs = revoked
            .iter()
            .map(|s| {
                Ok(x509_cert::crl::RevokedCert {
                    serial_number: SerialNumber::new(s)?,
                    revocation_date: time(this_update)?,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, EmuError>>()?;
        let tbs = x509_cert::crl::TbsCertList {
            version: Version::V2,
            signature: pss_alg(true)?,
            issuer: issuer.decoded().tbs_certificate.subject.clone(),
            this_update: time(this_update)?,
            next_update: next_update.map(time).transpose()?,
            revoked_certificates: (!revoked_certs.is_empty()).then_some(revoked_certs),
            crl_extensions: None,
        };
        let sig = pss_sign(key, &tbs.to_der()?)?;
        let crl = x509_cert::crl::CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: pss_alg(true)?,
            signature: BitString::from_bytes(&sig)?,
        };
        Ok(Crl::from_der(&crl.to_der()?)?)
    }
}

impl TestVek {
    /// The certificate's SHA-384-free public point (uncompressed SEC1).
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// Signs `report[0x000..0x2A0]` like the firmware: ECDSA P-384/SHA-384, r and s written
    /// little-endian into the 72-byte fields at 0x2A0 and 0x2E8.
    pub fn sign_report(&self, report: &mut [u8; REPORT_LEN]) -> Result<(), EmuError> {
        let (signed, sig_area) = report.split_at_mut(SIGNED_LEN);
        let sig = self
            .key
            .sign(&SystemRandom::new(), signed)
            .map_err(|_| EmuError::Crypto)?;
        let sig = sig.as_ref();
        let (r, s) = sig.split_at(48);
        sig_area.fill(0);
        for (i, b) in r.iter().rev().enumerate() {
            if let Some(slot) = sig_area.get_mut(i) {
                *slot = *b;
            }
        }
        for (i, b) in s.iter().rev().enumerate() {
            if let Some(slot) = sig_area.get_mut(0x48 + i) {
                *slot = *b;
            }
        }
        Ok(())
    }
}

mod chip;
pub mod kds;
pub mod tsm;
pub use chip::{EmulatedChip, Guest, IdAuthor, IdBlockInput, Launch, ReportRequest};

/// Fields of a report to build (everything else zero).
#[derive(Debug, Clone)]
pub struct ReportSpec {
    pub version: u32,
    pub product: Product,
    pub policy: u64,
    pub vmpl: u32,
    pub tcb: Tcb,
    /// CURRENT_TCB when it differs from the reported one (provisional firmware).
    pub current_tcb: Option<Tcb>,
    pub platform_info: u64,
    /// 0 = VCEK, 1 = VLEK.
    pub signing_key: u32,
    pub chip_id: [u8; 64],
    pub measurement: [u8; 48],
    pub report_data: [u8; 64],
    pub host_data: [u8; 32],
    /// CURRENT firmware (major, minor, build).
    pub firmware: (u8, u8, u8),
    /// COMMITTED firmware when it differs from CURRENT.
    pub committed_firmware: Option<(u8, u8, u8)>,
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub guest_svn: u32,
    pub id_key_digest: [u8; 48],
    pub author_key_digest: [u8; 48],
    pub author_key_en: bool,
    pub report_id: [u8; 32],
    /// LAUNCH_TCB when it differs from the reported TCB.
    pub launch_tcb: Option<Tcb>,
    /// v5 only.
    pub launch_mit_vector: u64,
    pub current_mit_vector: u64,
}

impl ReportSpec {
    pub fn new(product: Product, tcb: Tcb, chip_id: [u8; 64]) -> Self {
        Self {
            version: if product.has_fmc() { 5 } else { 3 },
            product,
            policy: 0x30000,
            vmpl: 0,
            tcb,
            current_tcb: None,
            platform_info: 0x1,
            signing_key: 0,
            chip_id,
            measurement: [0x11; 48],
            report_data: [0x22; 64],
            host_data: [0; 32],
            firmware: (1, 55, 40),
            committed_firmware: None,
            family_id: [0; 16],
            image_id: [0; 16],
            guest_svn: 0,
            id_key_digest: [0; 48],
            author_key_digest: [0; 48],
            author_key_en: false,
            report_id: [0; 32],
            launch_tcb: None,
            launch_mit_vector: 0,
            current_mit_vector: 0,
        }
    }

    /// The unsigned report bytes.
    pub fn build(&self) -> [u8; REPORT_LEN] {
        let mut b = [0u8; REPORT_LEN];
        let mut put = |off: usize, data: &[u8]| {
            if let Some(dst) = b.get_mut(off..off + data.len()) {
                dst.copy_from_slice(data);
            }
        };
        let p = self.product;
        let tcb = self.tcb.encode(p).0;
        let cur = self.current_tcb.unwrap_or(self.tcb).encode(p).0;
        put(0x000, &self.version.to_le_bytes());
        put(0x004, &self.guest_svn.to_le_bytes());
        put(0x008, &self.policy.to_le_bytes());
        put(0x010, &self.family_id);
        put(0x020, &self.image_id);
        put(0x030, &self.vmpl.to_le_bytes());
        put(0x034, &1u32.to_le_bytes());
        put(0x038, &cur);
        put(0x040, &self.platform_info.to_le_bytes());
        put(
            0x048,
            &((self.signing_key << 2) | u32::from(self.author_key_en)).to_le_bytes(),
        );
        put(0x050, &self.report_data);
        put(0x090, &self.measurement);
        put(0x0C0, &self.host_data);
        put(0x0E0, &self.id_key_digest);
        put(0x110, &self.author_key_digest);
        put(0x140, &self.report_id);
        put(0x160, &[0xff; 32]);
        put(0x180, &tcb);
        if self.version >= 3 {
            let (fam, model) = match p {
                Product::Milan => (0x19, 0x01),
                Product::Genoa => (0x19, 0x11),
                Product::Turin => (0x1A, 0x02),
                Product::Venice => (0x1A, 0x50),
            };
            put(0x188, &[fam, model, 0x01]);
        }
        put(0x1A0, &self.chip_id);
        put(0x1E0, &tcb);
        let (major, minor, build) = self.firmware;
        put(0x1E8, &[build, minor, major]);
        let (cmajor, cminor, cbuild) = self.committed_firmware.unwrap_or(self.firmware);
        put(0x1EC, &[cbuild, cminor, cmajor]);
        put(0x1F0, &self.launch_tcb.unwrap_or(self.tcb).encode(p).0);
        if self.version >= 5 {
            put(0x1F8, &self.launch_mit_vector.to_le_bytes());
            put(0x200, &self.current_mit_vector.to_le_bytes());
        }
        b
    }
}
