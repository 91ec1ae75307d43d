//! An emulated vTPM, in process (no external program): SHA-1/SHA-256/SHA-384 PCR banks with
//! extend, a crypto-agile TCG event log of every extend, attestation keys (RSA-2048 RSASSA-SHA256
//! and ECC P-256 ECDSA-SHA256) with the attributes and TPMT_PUBLIC of `tpm2_createak`, quotes
//! (TPMS_ATTEST + TPMT_SIGNATURE, byte for byte the TPM's layout), an RSA-2048 EK with the default
//! template and a certificate from a **test** CA, and ActivateCredential. For the emulated
//! confidential VM and for machines without swtpm. Its CA is never trusted unless named.

use std::str::FromStr;
use std::time::Duration;

use aws_lc_rs::cipher::{AES_128, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use der::Encode;
use der::asn1::{BitString, ObjectIdentifier, OctetString, UtcTime};
use shomei_core::UnixTime;
use shomei_tpm::HashAlg;
use shomei_tpm::credential::{Credential, kdfa};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{TbsCertificate, Version};

/// Errors of the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmuError {
    #[error("key generation, signing or decryption failed")]
    Crypto,
    #[error("encoding: {0}")]
    Der(#[from] der::Error),
    #[error("{0}")]
    Tpm(#[from] shomei_tpm::Error),
    /// TPM_RC_INTEGRITY: the credential's HMAC does not verify for this object name.
    #[error("ActivateCredential: integrity check failed")]
    Integrity,
    #[error("{0}")]
    Usage(&'static str),
}

/// Banks of the emulated TPM (those swtpm_setup --pcr-banks sha1,sha256,sha384 allocates).
pub const BANKS: [HashAlg; 3] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384];
/// firmwareVersion in TPMS_ATTEST.
pub const FIRMWARE_VERSION: u64 = 0x5348_4F4D_4549_0001; // "SHOMEI" 0001
/// The default EK template's authPolicy (PolicySecret(TPM_RH_ENDORSEMENT)), TCG EK profile.
pub const EK_POLICY: [u8; 32] = [
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
];

const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_TCG_EK_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.8.1");

fn push2b(out: &mut Vec<u8>, b: &[u8]) -> Result<(), EmuError> {
    let n = u16::try_from(b.len()).map_err(|_| EmuError::Usage("TPM2B too long"))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

/// An attestation key held by the emulated TPM.
pub struct Ak {
    key: AkKey,
    public: Vec<u8>,
}

enum AkKey {
    Rsa(RsaKeyPair),
    Ecc(EcdsaKeyPair),
}

/// The kind of AK to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AkKind {
    /// RSA-2048, RSASSA-SHA256.
    Rsa,
    /// ECC P-256, ECDSA-SHA256.
    Ecc,
}

/// tpm2_createak's attributes: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign.
pub const AK_ATTRIBUTES: u32 = 0x0005_0072;

impl Ak {
    fn generate(kind: AkKind) -> Result<Self, EmuError> {
        let mut p = Vec::new();
        match kind {
            AkKind::Rsa => {
                let k = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| EmuError::Crypto)?;
                let n = k
                    .public_key()
                    .modulus()
                    .big_endian_without_leading_zero()
                    .to_vec();
                p.extend_from_slice(&0x0001u16.to_be_bytes()); // TPM_ALG_RSA
                p.extend_from_slice(&0x000Bu16.to_be_bytes()); // nameAlg SHA-256
                p.extend_from_slice(&AK_ATTRIBUTES.to_be_bytes());
                push2b(&mut p, &[])?; // authPolicy
                p.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
                p.extend_from_slice(&0x0014u16.to_be_bytes()); // RSASSA
                p.extend_from_slice(&0x000Bu16.to_be_bytes()); // SHA-256
                p.extend_from_slice(&2048u16.to_be_bytes());
                p.extend_from_slice(&0u32.to_be_bytes()); // exponent 65537
                push2b(&mut p, &n)?;
                Ok(Self {
                    key: AkKey::Rsa(k),
                    public: p,
                })
            }
            AkKind::Ecc => {
                let k = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| EmuError::Crypto)?;
                let point = k.public_key().as_ref().to_vec();
                let (x, y) = (
                    point.get(1..33).ok_or(EmuError::Crypto)?,
                    point.get(33..65).ok_or(EmuError::Crypto)?,
                );
                p.extend_from_slice(&0x0023u16.to_be_bytes()); // TPM_ALG_ECC
                p.extend_from_slice(&0x000Bu16.to_be_bytes());
                p.extend_from_slice(&AK_ATTRIBUTES.to_be_bytes());
                push2b(&mut p, &[])?;
                p.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
                p.extend_from_slice(&0x0018u16.to_be_bytes()); // ECDSA
                p.extend_from_slice(&0x000Bu16.to_be_bytes());
                p.extend_from_slice(&0x0003u16.to_be_bytes()); // NIST P-256
                p.extend_from_slice(&0x0010u16.to_be_bytes()); // kdf NULL
                push2b(&mut p, x)?;
                push2b(&mut p, y)?;
                Ok(Self {
                    key: AkKey::Ecc(k),
                    public: p,
                })
            }
        }
    }

    /// TPMT_PUBLIC.
    pub fn tpmt_public(&self) -> &[u8] {
        &self.public
    }

    /// TPM2B_PUBLIC (what `tpm2_readpublic -f tss` writes).
    pub fn tpm2b_public(&self) -> Result<Vec<u8>, EmuError> {
        let mut out = Vec::new();
        push2b(&mut out, &self.public)?;
        Ok(out)
    }

    /// The object name: 0x000B ‖ SHA-256(TPMT_PUBLIC).
    pub fn name(&self) -> Vec<u8> {
        let mut n = 0x000Bu16.to_be_bytes().to_vec();
        n.extend_from_slice(&HashAlg::Sha256.digest(&self.public));
        n
    }

    /// The public key as PEM (`tpm2_createak -f pem`).
    pub fn pem(&self) -> Result<String, EmuError> {
        let k = shomei_tpm::AttestationKey::from_tpm2b_public(&self.tpm2b_public()?)?;
        shomei_core::x509::pem_encode("PUBLIC KEY", &k.to_spki_der()?)
            .map_err(|_| EmuError::Usage("PEM encoding"))
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, EmuError> {
        let rng = SystemRandom::new();
        let mut out = Vec::new();
        match &self.key {
            AkKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|_| EmuError::Crypto)?;
                out.extend_from_slice(&0x0014u16.to_be_bytes());
                out.extend_from_slice(&0x000Bu16.to_be_bytes());
                push2b(&mut out, &sig)?;
            }
            AkKey::Ecc(k) => {
                let sig = k.sign(&rng, msg).map_err(|_| EmuError::Crypto)?;
                let s = sig.as_ref();
                out.extend_from_slice(&0x0018u16.to_be_bytes());
                out.extend_from_slice(&0x000Bu16.to_be_bytes());
                push2b(&mut out, s.get(..32).ok_or(EmuError::Crypto)?)?;
                push2b(&mut out, s.get(32..64).ok_or(EmuError::Crypto)?)?;
            }
        }
        Ok(out)
    }
}

/// A quote: the TPMS_ATTEST and its TPMT_SIGNATURE (`tpm2_quote -m` / `-s`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The emulated TPM.
pub struct Vtpm {
    pcrs: Vec<(HashAlg, Vec<Vec<u8>>)>,
    log: Vec<u8>,
    events: usize,
    clock: u64,
    reset_count: u32,
    ek: PrivateDecryptingKey,
    ek_public: Vec<u8>,
}

fn spec_id_header() -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend_from_slice(&0u32.to_le_bytes()); // platformClass: client
    spec.extend_from_slice(&[0, 2, 0, 2]); // 2.0 errata 0, UINTN 8 bytes (2)
    spec.extend_from_slice(&u32::try_from(BANKS.len()).unwrap_or(0).to_le_bytes());
    for b in BANKS {
        spec.extend_from_slice(&b.id().to_le_bytes());
        spec.extend_from_slice(&u16::try_from(b.len()).unwrap_or(0).to_le_bytes());
    }
    spec.push(0);
    let mut log = Vec::new();
    log.extend_from_slice(&0u32.to_le_bytes());
    log.extend_from_slice(&3u32.to_le_bytes()); // EV_NO_ACTION
    log.extend_from_slice(&[0u8; 20]);
    log.extend_from_slice(&u32::try_from(spec.len()).unwrap_or(0).to_le_bytes());
    log.extend_from_slice(&spec);
    log
}

impl Vtpm {
    /// A TPM after TPM2_Startup(CLEAR): PCRs 0–16 and 23 zero, 17–22 all 0xFF, a fresh EK.
    pub fn new() -> Result<Self, EmuError> {
        let pcrs = BANKS
            .iter()
            .map(|b| {
                let v = (0u32..24)
                    .map(|i| vec![if (17..=22).contains(&i) { 0xFF } else { 0 }; b.len()])
                    .collect();
                (*b, v)
            })
            .collect();
        let ek = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| EmuError::Crypto)?;
        let spki = ek.public_key().as_der().map_err(|_| EmuError::Crypto)?;
        let k = shomei_tpm::AttestationKey::from_spki_der(spki.as_ref())?;
        let shomei_tpm::keys::KeyMaterial::Rsa { n, .. } = &k.material else {
            return Err(EmuError::Crypto);
        };
        let mut p = Vec::new();
        p.extend_from_slice(&0x0001u16.to_be_bytes());
        p.extend_from_slice(&0x000Bu16.to_be_bytes());
        p.extend_from_slice(&0x0003_00B2u32.to_be_bytes()); // fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt
        push2b(&mut p, &EK_POLICY)?;
        p.extend_from_slice(&0x0006u16.to_be_bytes()); // AES
        p.extend_from_slice(&128u16.to_be_bytes());
        p.extend_from_slice(&0x0043u16.to_be_bytes()); // CFB
        p.extend_from_slice(&0x0010u16.to_be_bytes()); // scheme NULL
        p.extend_from_slice(&2048u16.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        let mut n256 = vec![0u8; 256usize.saturating_sub(n.len())];
        n256.extend_from_slice(n);
        push2b(&mut p, &n256)?;
        Ok(Self {
            pcrs,
            log: spec_id_header(),
            events: 1,
            clock: 1000,
            reset_count: 0,
            ek,
            ek_public: p,
        })
    }

    /// PCR `index` of `bank`.
    pub fn pcr(&self, bank: HashAlg, index: u32) -> Option<&[u8]> {
        let i = usize::try_from(index).ok()?;
        self.pcrs
            .iter()
            .find(|(b, _)| *b == bank)
            .and_then(|(_, v)| v.get(i))
            .map(Vec::as_slice)
    }

    /// Measures `data` into PCR `index` of every bank (digest = H_bank(data)) and appends a
    /// TCG_PCR_EVENT2 record of `event_type` to the log.
    pub fn extend(&mut self, index: u32, event_type: u32, data: &[u8]) -> Result<(), EmuError> {
        let i = usize::try_from(index)
            .ok()
            .filter(|i| *i < 24)
            .ok_or(EmuError::Usage("PCR index out of range"))?;
        let mut rec = Vec::new();
        rec.extend_from_slice(&index.to_le_bytes());
        rec.extend_from_slice(&event_type.to_le_bytes());
        rec.extend_from_slice(&u32::try_from(BANKS.len()).unwrap_or(0).to_le_bytes());
        for (bank, values) in &mut self.pcrs {
            let d = bank.digest(data);
            rec.extend_from_slice(&bank.id().to_le_bytes());
            rec.extend_from_slice(&d);
            if let Some(v) = values.get_mut(i) {
                *v = bank.extend(v, &d);
            }
        }
        rec.extend_from_slice(
            &u32::try_from(data.len())
                .map_err(|_| EmuError::Usage("event too long"))?
                .to_le_bytes(),
        );
        rec.extend_from_slice(data);
        self.log.extend_from_slice(&rec);
        self.events = self.events.saturating_add(1);
        Ok(())
    }

    /// A plausible UEFI boot: firmware blob, Secure Boot variable, separators 0–7, a boot
    /// application, GRUB command line.
    pub fn measured_boot(&mut self) -> Result<(), EmuError> {
        let mut blob = 0x8200_0000u64.to_le_bytes().to_vec();
        blob.extend_from_slice(&0x20_0000u64.to_le_bytes());
        self.extend(0, 0x8000_0008, &blob)?;
        self.extend(7, 0x8000_0001, &efi_variable("SecureBoot", &[1]))?;
        for pcr in 0..8 {
            self.extend(pcr, 0x4, &[0, 0, 0, 0])?;
        }
        self.extend(4, 0x8000_0007, b"Calling EFI Application from Boot Option")?;
        self.extend(8, 0xD, b"kernel_cmdline: /vmlinuz root=/dev/vda1 ro\0")?;
        Ok(())
    }

    /// The event log so far (crypto-agile, every bank).
    pub fn event_log(&self) -> &[u8] {
        &self.log
    }

    /// Creates an attestation key.
    pub fn create_ak(&self, kind: AkKind) -> Result<Ak, EmuError> {
        Ak::generate(kind)
    }

    /// TPM2_Quote over `selection` (bank, indices ascending) with `nonce` as qualifying data.
    pub fn quote(
        &mut self,
        ak: &Ak,
        nonce: &[u8],
        selection: &[(HashAlg, Vec<u32>)],
    ) -> Result<Quote, EmuError> {
        self.clock = self.clock.saturating_add(17);
        let mut m = Vec::new();
        m.extend_from_slice(&0xFF54_4347u32.to_be_bytes());
        m.extend_from_slice(&0x8018u16.to_be_bytes());
        push2b(&mut m, &ak.name())?; // qualifiedSigner (the AK under a primary: its name here)
        push2b(&mut m, nonce)?;
        m.extend_from_slice(&self.clock.to_be_bytes());
        m.extend_from_slice(&self.reset_count.to_be_bytes());
        m.extend_from_slice(&0u32.to_be_bytes()); // restartCount
        m.push(1); // safe
        m.extend_from_slice(&FIRMWARE_VERSION.to_be_bytes());
        m.extend_from_slice(&u32::try_from(selection.len()).unwrap_or(0).to_be_bytes());
        let mut concat = Vec::new();
        for (bank, indices) in selection {
            let mut bits = [0u8; 3];
            let mut sorted = indices.clone();
            sorted.sort_unstable();
            sorted.dedup();
            for i in &sorted {
                let v = self.pcr(*bank, *i).ok_or(EmuError::Usage("no such PCR"))?;
                concat.extend_from_slice(v);
                let byte = usize::try_from(i / 8).unwrap_or(usize::MAX);
                if let Some(b) = bits.get_mut(byte) {
                    *b |= 1u8 << (i % 8);
                }
            }
            m.extend_from_slice(&bank.id().to_be_bytes());
            m.push(3);
            m.extend_from_slice(&bits);
        }
        push2b(&mut m, &HashAlg::Sha256.digest(&concat))?;
        let signature = ak.sign(&m)?;
        Ok(Quote {
            message: m,
            signature,
        })
    }

    /// The EK's TPM2B_PUBLIC (`tpm2_createek -u`).
    pub fn ek_public(&self) -> Result<Vec<u8>, EmuError> {
        let mut out = Vec::new();
        push2b(&mut out, &self.ek_public)?;
        Ok(out)
    }

    /// TPM2_ActivateCredential: recovers the secret of `cred` for the object named `name`,
    /// or refuses (TPM_RC_INTEGRITY) when the credential was made for another name or EK.
    pub fn activate_credential(&self, name: &[u8], cred: &Credential) -> Result<Vec<u8>, EmuError> {
        let oaep = OaepPrivateDecryptingKey::new(self.ek.clone()).map_err(|_| EmuError::Crypto)?;
        let mut seed = vec![0u8; oaep.min_output_size()];
        let seed = oaep
            .decrypt(
                &OAEP_SHA256_MGF1SHA256,
                &cred.encrypted_secret,
                &mut seed,
                Some(b"IDENTITY\0"),
            )
            .map_err(|_| EmuError::Integrity)?
            .to_vec();
        let h = HashAlg::Sha256;
        let mut r = shomei_core::Reader::new(&cred.id_object);
        let hlen = usize::from(
            r.u16_be("integrityHMAC.size")
                .map_err(|_| EmuError::Integrity)?,
        );
        let mac = r
            .take(hlen, "integrityHMAC")
            .map_err(|_| EmuError::Integrity)?;
        let enc = r.rest().to_vec();
        let hmac_key = kdfa(h, &seed, "INTEGRITY", &[], &[], 256);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &hmac_key);
        hmac::verify(&key, &[enc.as_slice(), name].concat(), mac)
            .map_err(|_| EmuError::Integrity)?;
        let sym = kdfa(h, &seed, "STORAGE", name, &[], 128);
        let k = UnboundCipherKey::new(&AES_128, &sym).map_err(|_| EmuError::Crypto)?;
        let d = DecryptingKey::cfb128(k).map_err(|_| EmuError::Crypto)?;
        let mut buf = enc;
        let plain = d
            .decrypt(&mut buf, DecryptionContext::Iv128([0u8; 16].into()))
            .map_err(|_| EmuError::Crypto)?;
        let mut r = shomei_core::Reader::new(plain);
        let n = usize::from(
            r.u16_be("credential.size")
                .map_err(|_| EmuError::Integrity)?,
        );
        Ok(r.take(n, "credential")
            .map_err(|_| EmuError::Integrity)?
            .to_vec())
    }
}

/// UEFI_VARIABLE_DATA for EFI_GLOBAL_VARIABLE `name`.
fn efi_variable(name: &str, value: &[u8]) -> Vec<u8> {
    let guid = [
        0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b,
        0x8c,
    ];
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut out = guid.to_vec();
    out.extend_from_slice(&u64::try_from(units.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&u64::try_from(value.len()).unwrap_or(0).to_le_bytes());
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// A **test** EK CA (ECDSA P-256, self-signed). Never trusted unless added to a store.
pub struct TestEkCa {
    key: EcdsaKeyPair,
    /// The CA certificate, DER.
    pub certificate: Vec<u8>,
    name: Name,
}

fn time(t: UnixTime) -> Result<Time, EmuError> {
    let secs = u64::try_from(t.secs()).map_err(|_| EmuError::Crypto)?;
    Ok(Time::UtcTime(UtcTime::from_unix_duration(
        Duration::from_secs(secs),
    )?))
}

fn ecdsa_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: OID_ECDSA_SHA256,
        parameters: None,
    }
}

impl TestEkCa {
    /// A CA valid from `not_before` to `not_after`.
    pub fn generate(not_before: UnixTime, not_after: UnixTime) -> Result<Self, EmuError> {
        let key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| EmuError::Crypto)?;
        let name = Name::from_str("CN=shomei test EK CA,O=shomei emulated - never trusted")?;
        let spki_der = key.public_key().as_der().map_err(|_| EmuError::Crypto)?;
        let spki = <SubjectPublicKeyInfoOwned as der::Decode>::from_der(spki_der.as_ref())?;
        let bc = BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&[1])?,
            signature: ecdsa_alg(),
            issuer: name.clone(),
            validity: Validity {
                not_before: time(not_before)?,
                not_after: time(not_after)?,
            },
            subject: name.clone(),
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(vec![Extension {
                extn_id: OID_BASIC_CONSTRAINTS,
                critical: true,
                extn_value: OctetString::new(bc.to_der()?)?,
            }]),
        };
        let certificate = sign(&key, tbs)?;
        Ok(Self {
            key,
            certificate,
            name,
        })
    }

    /// Issues an EK certificate for `vtpm`'s EK (EKU 2.23.133.8.1, not a CA). Unlike the TCG
    /// profile, the subject is a CN rather than empty with a critical SubjectAltName.
    pub fn issue_ek_certificate(
        &self,
        vtpm: &Vtpm,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<Vec<u8>, EmuError> {
        let spki_der = vtpm
            .ek
            .public_key()
            .as_der()
            .map_err(|_| EmuError::Crypto)?;
        let spki = <SubjectPublicKeyInfoOwned as der::Decode>::from_der(spki_der.as_ref())?;
        let bc = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        };
        let eku = vec![OID_TCG_EK_CERTIFICATE].to_der()?;
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&[2])?,
            signature: ecdsa_alg(),
            issuer: self.name.clone(),
            validity: Validity {
                not_before: time(not_before)?,
                not_after: time(not_after)?,
            },
            subject: Name::from_str("CN=shomei emulated vTPM EK")?,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(vec![
                Extension {
                    extn_id: OID_BASIC_CONSTRAINTS,
                    critical: true,
                    extn_value: OctetString::new(bc.to_der()?)?,
                },
                Extension {
                    extn_id: OID_EKU,
                    critical: false,
                    extn_value: OctetString::new(eku)?,
                },
            ]),
        };
        sign(&self.key, tbs)
    }
}

fn sign(key: &EcdsaKeyPair, tbs: TbsCertificate) -> Result<Vec<u8>, EmuError> {
    let tbs_der = tbs.to_der()?;
    let sig = key
        .sign(&SystemRandom::new(), &tbs_der)
        .map_err(|_| EmuError::Crypto)?;
    let cert = x509_cert::Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_alg(),
        signature: BitString::from_bytes(sig.as_ref())?,
    };
    Ok(cert.to_der()?)
}
