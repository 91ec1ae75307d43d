//! AMD's certificates: the VEK extensions (KDS spec 57230) and the pinned roots of trust.
//!
//! AMD certificates are not strict X.509 (explicit PSS trailerField, serial 0, no
//! basicConstraints on the VEK), so they are not run through a WebPKI validator: the chain is
//! checked here, link by link, against roots compiled into this crate and pinned by SHA-256.

use std::sync::OnceLock;

use der::Decode;
use der::asn1::{Ia5StringRef, ObjectIdentifier};
use shomei_core::x509::{Certificate, PublicKey, X509Error};

use crate::error::Error;
use crate::tcb::Tcb;
use crate::{Product, SigningKey};

const fn amd_oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

pub const OID_STRUCT_VERSION: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.1");
pub const OID_PRODUCT_NAME: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.2");
pub const OID_BL_SPL: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.3.1");
pub const OID_TEE_SPL: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.3.2");
pub const OID_SNP_SPL: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.3.3");
pub const OID_UCODE_SPL: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.3.8");
pub const OID_FMC_SPL: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.3.9");
pub const OID_HWID: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.4");
pub const OID_CSP_ID: ObjectIdentifier = amd_oid("1.3.6.1.4.1.3704.1.5");

/// The AMD-specific contents of a VCEK or VLEK certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VekInfo {
    pub kind: SigningKey,
    /// 0 = Milan/Genoa layout, 1 = Turin layout.
    pub struct_version: Option<u32>,
    pub product_name: Option<String>,
    pub bootloader: Option<u8>,
    pub tee: Option<u8>,
    pub snp: Option<u8>,
    pub microcode: Option<u8>,
    pub fmc: Option<u8>,
    /// The hwID (VCEK only): 64 bytes, or 8 on Turin; accepted raw or DER-wrapped.
    pub hwid: Option<Vec<u8>>,
    /// The cloud provider (VLEK only), e.g. `CN=cc-us-east-2.amazonaws.com`.
    pub csp_id: Option<String>,
}

fn ext_err(name: &str, source: der::Error) -> Error {
    Error::Certificate {
        what: format!("VEK extension {name}"),
        source: X509Error::Der {
            what: "AMD extension",
            source,
        },
    }
}

/// An SPL: a DER INTEGER of one or two content bytes (values over 127 carry a leading zero).
fn spl(cert: &Certificate, oid: &ObjectIdentifier, name: &str) -> Result<Option<u8>, Error> {
    cert.extension(oid)
        .map(|v| u8::from_der(v).map_err(|e| ext_err(name, e)))
        .transpose()
}

/// The hwID: raw bytes (what AMD issues) or a DER OCTET STRING around them.
fn hwid(v: &[u8]) -> Vec<u8> {
    match v {
        [0x04, 0x40, rest @ ..] if rest.len() == 64 => rest.to_vec(),
        [0x04, 0x08, rest @ ..] if rest.len() == 8 => rest.to_vec(),
        _ => v.to_vec(),
    }
}

impl VekInfo {
    /// Reads the AMD extensions. The certificate must be a VCEK (`CN=SEV-VCEK`) or a VLEK
    /// (`CN=SEV-VLEK`).
    pub fn from_certificate(cert: &Certificate) -> Result<Self, Error> {
        let cn = cert.subject_cn().unwrap_or_default();
        let kind = match cn.as_str() {
            "SEV-VCEK" => SigningKey::Vcek,
            "SEV-VLEK" => SigningKey::Vlek,
            other => {
                return Err(Error::MissingCollateral(format!(
                    "certificate {other:?} is not a VCEK or VLEK"
                )));
            }
        };
        let struct_version = cert
            .extension(&OID_STRUCT_VERSION)
            .map(|v| u32::from_der(v).map_err(|e| ext_err("structVersion", e)))
            .transpose()?;
        let product_name = cert
            .extension(&OID_PRODUCT_NAME)
            .map(|v| {
                Ia5StringRef::from_der(v)
                    .map(|s| s.as_str().to_owned())
                    .map_err(|e| ext_err("productName", e))
            })
            .transpose()?;
        let csp_id = cert
            .extension(&OID_CSP_ID)
            .map(|v| {
                Ia5StringRef::from_der(v)
                    .map(|s| s.as_str().to_owned())
                    .map_err(|e| ext_err("CSP_ID", e))
            })
            .transpose()?;
        Ok(Self {
            kind,
            struct_version,
            product_name,
            bootloader: spl(cert, &OID_BL_SPL, "blSPL")?,
            tee: spl(cert, &OID_TEE_SPL, "teeSPL")?,
            snp: spl(cert, &OID_SNP_SPL, "snpSPL")?,
            microcode: spl(cert, &OID_UCODE_SPL, "ucodeSPL")?,
            fmc: spl(cert, &OID_FMC_SPL, "fmcSPL")?,
            hwid: cert.extension(&OID_HWID).map(hwid),
            csp_id,
        })
    }

    /// The product named by productName.
    pub fn product(&self) -> Option<Product> {
        self.product_name
            .as_deref()
            .and_then(Product::from_product_name)
    }

    /// The TCB the certificate was issued for, when every component is present.
    pub fn tcb(&self) -> Option<Tcb> {
        Some(Tcb {
            fmc: self.fmc,
            bootloader: self.bootloader?,
            tee: self.tee?,
            snp: self.snp?,
            microcode: self.microcode?,
        })
    }
}

/// One product's AMD root of trust: the ARK and the two intermediates it signs.
#[derive(Debug, Clone)]
pub struct AmdRoot {
    pub product: Product,
    pub ark: Certificate,
    /// Issues VCEKs (`CN=SEV-{Product}`).
    pub ask: Certificate,
    /// Issues VLEKs (`CN=SEV-VLEK-{Product}`).
    pub asvk: Certificate,
    pub(crate) ark_key: PublicKey,
    pub(crate) ask_key: PublicKey,
    pub(crate) asvk_key: PublicKey,
}

impl AmdRoot {
    /// Builds a root after checking the ARK's self-signature and that it signed both
    /// intermediates. Validity periods are checked at verification time, not here.
    pub fn new(
        product: Product,
        ark: Certificate,
        ask: Certificate,
        asvk: Certificate,
    ) -> Result<Self, X509Error> {
        let ark_key = ark.public_key()?;
        ark.verify_signed_by(&ark_key)?;
        ask.verify_signed_by(&ark_key)?;
        asvk.verify_signed_by(&ark_key)?;
        let ask_key = ask.public_key()?;
        let asvk_key = asvk.public_key()?;
        Ok(Self {
            product,
            ark,
            ask,
            asvk,
            ark_key,
            ask_key,
            asvk_key,
        })
    }

    /// A root from a bundle of certificates (PEM or DER, in any order): the self-signed
    /// `ARK-{Product}`, the `SEV-{Product}` ASK and the `SEV-VLEK-{Product}` ASVK it signed —
    /// what `shomei snp emulate` writes as `trust-root.pem`, and what an operator registers.
    pub fn from_bundle(bytes: &[u8]) -> Result<Self, String> {
        let certs = shomei_core::x509::parse_certificates(bytes).map_err(|e| e.to_string())?;
        let by_prefix = |prefix: &str| {
            certs
                .iter()
                .find(|c| c.subject_cn().is_some_and(|cn| cn.starts_with(prefix)))
                .cloned()
        };
        let ark = by_prefix("ARK-").ok_or("no ARK-* certificate")?;
        let product: Product = ark
            .subject_cn()
            .unwrap_or_default()
            .trim_start_matches("ARK-")
            .parse()
            .map_err(|e: crate::product::UnknownProduct| e.to_string())?;
        let p = product.kds_name();
        let ask = by_prefix(&format!("SEV-{p}")).ok_or_else(|| format!("no SEV-{p} (ASK)"))?;
        let asvk =
            by_prefix(&format!("SEV-VLEK-{p}")).ok_or_else(|| format!("no SEV-VLEK-{p} (ASVK)"))?;
        Self::new(product, ark, ask, asvk)
            .map_err(|e| format!("the ARK does not sign its ASK and ASVK: {e}"))
    }

    pub fn intermediate(&self, kind: SigningKey) -> (&Certificate, &PublicKey) {
        match kind {
            SigningKey::Vlek => (&self.asvk, &self.asvk_key),
            _ => (&self.ask, &self.ask_key),
        }
    }
}

/// The set of AMD roots a verifier trusts.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    roots: Vec<AmdRoot>,
}

/// SHA-256 of the DER of every compiled-in certificate: (product, role, hash).
pub const PINS: [(Product, &str, &str); 9] = [
    (
        Product::Milan,
        "ARK",
        "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    ),
    (
        Product::Milan,
        "ASK",
        "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
    ),
    (
        Product::Milan,
        "ASVK",
        "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
    ),
    (
        Product::Genoa,
        "ARK",
        "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
    ),
    (
        Product::Genoa,
        "ASK",
        "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
    ),
    (
        Product::Genoa,
        "ASVK",
        "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
    ),
    (
        Product::Turin,
        "ARK",
        "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    ),
    (
        Product::Turin,
        "ASK",
        "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
    ),
    (
        Product::Turin,
        "ASVK",
        "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
    ),
];

/// AMD's published chains (`kdsintf.amd.com/{vcek,vlek}/v1/{P}/cert_chain`: intermediate then
/// ARK), compiled in.
const BUILTIN: [(Product, &[u8], &[u8]); 3] = [
    (
        Product::Milan,
        include_bytes!("../roots/ask_ark_milan.pem"),
        include_bytes!("../roots/ask_ark_milan_vlek.pem"),
    ),
    (
        Product::Genoa,
        include_bytes!("../roots/ask_ark_genoa.pem"),
        include_bytes!("../roots/ask_ark_genoa_vlek.pem"),
    ),
    (
        Product::Turin,
        include_bytes!("../roots/ask_ark_turin_vcek.pem"),
        include_bytes!("../roots/ask_ark_turin_vlek.pem"),
    ),
];

fn pinned(product: Product, role: &str, cert: &Certificate) -> bool {
    let got = hex::encode(cert.sha256());
    PINS.iter()
        .any(|(p, r, h)| *p == product && *r == role && *h == got)
}

fn load_builtin(product: Product, vcek_pem: &[u8], vlek_pem: &[u8]) -> Option<AmdRoot> {
    let vcek_chain = shomei_core::x509::parse_certificates(vcek_pem).ok()?;
    let vlek_chain = shomei_core::x509::parse_certificates(vlek_pem).ok()?;
    let (ask, ark) = (vcek_chain.first()?, vcek_chain.get(1)?);
    let (asvk, ark2) = (vlek_chain.first()?, vlek_chain.get(1)?);
    if ark != ark2
        || !pinned(product, "ARK", ark)
        || !pinned(product, "ASK", ask)
        || !pinned(product, "ASVK", asvk)
    {
        return None;
    }
    AmdRoot::new(product, ark.clone(), ask.clone(), asvk.clone()).ok()
}

impl TrustAnchors {
    /// AMD's roots for Milan, Genoa and Turin, compiled in, each certificate checked against its
    /// pinned SHA-256 and the ARK signatures verified once per process.
    pub fn amd() -> &'static TrustAnchors {
        static AMD: OnceLock<TrustAnchors> = OnceLock::new();
        AMD.get_or_init(|| TrustAnchors {
            roots: BUILTIN
                .iter()
                .filter_map(|(p, vcek, vlek)| load_builtin(*p, vcek, vlek))
                .collect(),
        })
    }

    /// An empty set, to which an operator adds roots explicitly (e.g. an emulator's test root).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the root for its product.
    pub fn with_root(mut self, root: AmdRoot) -> Self {
        self.roots.retain(|r| r.product != root.product);
        self.roots.push(root);
        self
    }

    pub fn get(&self, product: Product) -> Option<&AmdRoot> {
        self.roots.iter().find(|r| r.product == product)
    }

    pub fn roots(&self) -> &[AmdRoot] {
        &self.roots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_root_loads_and_matches_its_pin() {
        let a = TrustAnchors::amd();
        for p in [Product::Milan, Product::Genoa, Product::Turin] {
            let r = a.get(p);
            assert!(r.is_some(), "{p} root missing");
            if let Some(r) = r {
                assert_eq!(
                    r.ark.subject_cn().as_deref(),
                    Some(format!("ARK-{}", p.kds_name()).as_str())
                );
                assert_eq!(
                    r.ask.subject_cn().as_deref(),
                    Some(format!("SEV-{}", p.kds_name()).as_str())
                );
                assert_eq!(
                    r.asvk.subject_cn().as_deref(),
                    Some(format!("SEV-VLEK-{}", p.kds_name()).as_str())
                );
            }
        }
        assert!(a.get(Product::Venice).is_none());
    }

    #[test]
    fn a_certificate_not_matching_its_pin_is_refused() {
        // The Milan ASK presented as the Genoa ASK fails the pin.
        let milan = TrustAnchors::amd().get(Product::Milan);
        assert!(milan.is_some_and(|m| !pinned(Product::Genoa, "ASK", &m.ask)));
        assert!(milan.is_some_and(|m| pinned(Product::Milan, "ASK", &m.ask)));
    }

    #[test]
    fn hwid_accepts_raw_and_der_wrapped() {
        let raw: Vec<u8> = (0u8..64).collect();
        let mut wrapped = vec![0x04, 0x40];
        wrapped.extend_from_slice(&raw);
        assert_eq!(hwid(&raw), raw);
        assert_eq!(hwid(&wrapped), raw);
        let short = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(hwid(&short), short.to_vec());
        let mut w8 = vec![0x04, 0x08];
        w8.extend_from_slice(&short);
        assert_eq!(hwid(&w8), short.to_vec());
    }
}
