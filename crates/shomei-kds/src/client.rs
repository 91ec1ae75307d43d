//! [`KdsClient`]: VCEKs, certificate chains and CRLs, from the cache or the KDS.

use std::path::{Path, PathBuf};

use shomei_core::UnixTime;
use shomei_core::x509::{Certificate, Crl, parse_certificates};
use shomei_snp::{Collateral, Product, Report, SigningKey, Tcb, TrustAnchors, VekInfo, kds};

use crate::cache;
use crate::config::{KdsConfig, Mode};
use crate::error::KdsError;
use crate::http::Http;

/// What identifies a VCEK on the KDS: the product, the chip and the TCB it was derived for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcekRequest {
    pub product: Product,
    pub chip_id: [u8; 64],
    pub tcb: Tcb,
}

impl VcekRequest {
    /// The request for the VCEK that signed `report_bytes`: the product from the report's CPUID
    /// (v3+) or `product` (they must agree when both are known), the CHIP_ID, and REPORTED_TCB
    /// decoded with the product's layout (the VCEK is derived from REPORTED_TCB).
    ///
    /// Refuses VLEK-signed reports ([`KdsError::VlekNotPublic`]), unsigned ones, and a masked
    /// (all-zero) CHIP_ID.
    pub fn from_report(report_bytes: &[u8], product: Option<Product>) -> Result<Self, KdsError> {
        let report = Report::parse(report_bytes)?;
        match report.signing_key() {
            SigningKey::Vcek => {}
            SigningKey::Vlek => return Err(KdsError::VlekNotPublic),
            SigningKey::None => {
                return Err(KdsError::Unsigned {
                    why: "KEY_INFO.SIGNING_KEY is NONE",
                });
            }
        }
        if report.key_info().mask_chip_key() {
            return Err(KdsError::Unsigned {
                why: "KEY_INFO.MASK_CHIP_KEY is set",
            });
        }
        let product = match (report.product_from_cpuid(), product) {
            (Some(report), Some(given)) if report != given => {
                return Err(KdsError::ProductMismatch { report, given });
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => return Err(KdsError::UnknownProduct),
        };
        let chip_id = *report.chip_id();
        if chip_id.iter().all(|b| *b == 0) {
            return Err(KdsError::ChipIdMasked);
        }
        Ok(Self {
            product,
            chip_id,
            tcb: report.reported_tcb().decode(product),
        })
    }

    /// The KDS URL of this VCEK under `base`.
    pub fn url(&self, base: &str) -> String {
        kds::vcek_url(base, self.product, &self.chip_id, &self.tcb)
    }
}

/// A blocking client for AMD's Key Distribution Service with an on-disk cache. Cheap to share
/// between threads (`&self` everywhere); it never reads the clock: times are arguments.
#[derive(Debug, Clone)]
pub struct KdsClient {
    config: KdsConfig,
    http: Http,
}

fn kind_dir(kind: SigningKey) -> Result<&'static str, KdsError> {
    match kind {
        SigningKey::Vcek => Ok("vcek"),
        SigningKey::Vlek => Ok("vlek"),
        SigningKey::None => Err(KdsError::Unsigned {
            why: "SigningKey::None names no key",
        }),
    }
}

impl KdsClient {
    /// A client for `config`. Fails only for a configuration that cannot work (offline mode
    /// without a cache directory).
    pub fn new(config: KdsConfig) -> Result<Self, KdsError> {
        if config.mode == Mode::Offline && config.cache_dir.is_none() {
            return Err(KdsError::Config("offline mode needs a cache directory"));
        }
        let http = Http::new(&config);
        Ok(Self { config, http })
    }

    pub fn config(&self) -> &KdsConfig {
        &self.config
    }

    fn under_cache(&self, rel: &str) -> Option<PathBuf> {
        self.config.cache_dir.as_ref().map(|d| d.join(rel))
    }

    /// Where the VCEK for (product, chip, TCB) is cached, when there is a cache.
    pub fn vcek_cache_file(
        &self,
        product: Product,
        chip_id: &[u8; 64],
        tcb: &Tcb,
    ) -> Option<PathBuf> {
        self.under_cache(&kds::vcek_cache_path(product, chip_id, tcb))
    }

    /// Where the certificate chain for (product, kind) is cached, when there is a cache.
    pub fn cert_chain_cache_file(
        &self,
        product: Product,
        kind: SigningKey,
    ) -> Result<Option<PathBuf>, KdsError> {
        Ok(self.under_cache(&format!("{product}/{}/cert_chain.pem", kind_dir(kind)?)))
    }

    /// Where the CRL for (product, kind) is cached, when there is a cache.
    pub fn crl_cache_file(
        &self,
        product: Product,
        kind: SigningKey,
    ) -> Result<Option<PathBuf>, KdsError> {
        Ok(self.under_cache(&format!("{product}/{}/crl.der", kind_dir(kind)?)))
    }

    /// The VCEK (DER) for a chip at a TCB. A cached VCEK is used forever (AMD derives it from
    /// the chip and the TCB, so it never changes); a downloaded one is cached only after it
    /// parses as a VCEK of this product whose TCB and hwID are the requested ones and, when
    /// [`KdsConfig::anchors`] has the product, whose signature verifies under its ASK.
    pub fn vcek(
        &self,
        product: Product,
        chip_id: &[u8; 64],
        tcb: &Tcb,
    ) -> Result<Vec<u8>, KdsError> {
        let url = kds::vcek_url(&self.config.base_url, product, chip_id, tcb);
        let path = self.vcek_cache_file(product, chip_id, tcb);
        let anchors = &self.config.anchors;
        let check = |bytes: &[u8]| check_vcek(bytes, product, chip_id, tcb, anchors);
        if let Some(cert) = self.cached(path.as_deref(), check)? {
            return Ok(cert.der().to_vec());
        }
        let cert = self.download(&url, path.as_deref(), check)?;
        Ok(cert.der().to_vec())
    }

    /// AMD's chain for the product: the intermediate (ASK for [`SigningKey::Vcek`], ASVK for
    /// [`SigningKey::Vlek`]) then the ARK. Cached without expiry. Checked before caching: two
    /// certificates with the expected names, the ARK self-signed and signing the intermediate,
    /// and the ARK equal to the pinned one when [`KdsConfig::anchors`] has the product.
    ///
    /// The AMD roots are compiled into `shomei-snp`, so verification does not need this; it is
    /// here for completeness and to save a chain.
    pub fn cert_chain(
        &self,
        product: Product,
        kind: SigningKey,
    ) -> Result<Vec<Certificate>, KdsError> {
        let url = kds::cert_chain_url(&self.config.base_url, product, kind);
        let path = self.cert_chain_cache_file(product, kind)?;
        let anchors = &self.config.anchors;
        let check = |bytes: &[u8]| check_chain(bytes, product, kind, anchors);
        if let Some(chain) = self.cached(path.as_deref(), check)? {
            return Ok(chain);
        }
        self.download(&url, path.as_deref(), check)
    }

    /// AMD's CRL for the product's ARK (the same ARK signs the VCEK and VLEK CRLs, which are
    /// published separately). A cached CRL is used while its nextUpdate is after `now`;
    /// otherwise it is downloaded again (online), or, offline, [`KdsError::StaleCrl`] carries
    /// the stale one. A CRL without nextUpdate is never fresh. A downloaded CRL is cached when
    /// it parses and, when [`KdsConfig::anchors`] has the product, is issued and signed by the
    /// ARK; whether it is current is left to verification (the freshest CRL AMD publishes is
    /// cached even if it is already past its nextUpdate).
    pub fn crl(&self, product: Product, kind: SigningKey, now: UnixTime) -> Result<Crl, KdsError> {
        let url = kds::crl_url(&self.config.base_url, product, kind);
        let path = self.crl_cache_file(product, kind)?;
        let anchors = &self.config.anchors;
        let check = |bytes: &[u8]| check_crl(bytes, product, anchors);
        if let Some(crl) = self.cached(path.as_deref(), check)? {
            let next_update = crl.next_update();
            if next_update.is_some_and(|n| n > now) {
                return Ok(crl);
            }
            if self.config.mode == Mode::Offline {
                return Err(KdsError::StaleCrl {
                    path: path.unwrap_or_default(),
                    now,
                    next_update,
                    crl: Box::new(crl),
                });
            }
        }
        self.download(&url, path.as_deref(), check)
    }

    /// The collateral to verify a VCEK-signed report with [`shomei_snp::verify()`]: its VCEK and,
    /// with `with_crl`, the VCEK CRL (fresh at `now`, as [`KdsClient::crl`]). The chain is not
    /// included: the AMD roots are compiled into `shomei-snp`. See [`VcekRequest::from_report`]
    /// for how the product, chip and TCB are read from the report.
    pub fn collateral_for_report(
        &self,
        report_bytes: &[u8],
        product: Option<Product>,
        with_crl: bool,
        now: UnixTime,
    ) -> Result<Collateral, KdsError> {
        let req = VcekRequest::from_report(report_bytes, product)?;
        let der = self.vcek(req.product, &req.chip_id, &req.tcb)?;
        let cert = Certificate::from_der(&der).map_err(|e| KdsError::Invalid {
            url: req.url(&self.config.base_url),
            detail: e.to_string(),
        })?;
        let mut collateral = Collateral::new().with_certificate(cert);
        if with_crl {
            collateral = collateral.with_crl(self.crl(req.product, SigningKey::Vcek, now)?);
        }
        Ok(collateral)
    }

    /// The cached entry, if the mode reads the cache and the entry checks out. Offline, a
    /// missing entry is [`KdsError::NotCached`] and an invalid one [`KdsError::InvalidCache`];
    /// online, both mean "download it".
    fn cached<T>(
        &self,
        path: Option<&Path>,
        check: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Option<T>, KdsError> {
        let offline = self.config.mode == Mode::Offline;
        let Some(path) = path else {
            return if offline {
                Err(KdsError::Config("offline mode needs a cache directory"))
            } else {
                Ok(None)
            };
        };
        if self.config.mode == Mode::Refresh {
            return Ok(None);
        }
        match cache::read(path) {
            Ok(Some(bytes)) => match check(&bytes) {
                Ok(v) => Ok(Some(v)),
                Err(detail) if offline => Err(KdsError::InvalidCache {
                    path: path.to_path_buf(),
                    detail,
                }),
                Err(_) => Ok(None),
            },
            Ok(None) if offline => Err(KdsError::NotCached {
                path: path.to_path_buf(),
            }),
            Ok(None) => Ok(None),
            // Oversized: online, replace it.
            Err(KdsError::InvalidCache { .. }) if !offline => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Downloads, checks, and only then caches (atomically) the bytes as received.
    fn download<T>(
        &self,
        url: &str,
        path: Option<&Path>,
        check: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, KdsError> {
        if self.config.mode == Mode::Offline {
            return Err(KdsError::Config("offline mode does not download"));
        }
        let body = self.http.get(url)?;
        let value = check(&body).map_err(|detail| KdsError::Invalid {
            url: url.to_owned(),
            detail,
        })?;
        if let Some(path) = path {
            cache::write(path, &body)?;
        }
        Ok(value)
    }
}

fn check_vcek(
    bytes: &[u8],
    product: Product,
    chip_id: &[u8; 64],
    tcb: &Tcb,
    anchors: &TrustAnchors,
) -> Result<Certificate, String> {
    let cert = Certificate::from_der(bytes).map_err(|e| format!("not a DER certificate: {e}"))?;
    let info = VekInfo::from_certificate(&cert).map_err(|e| e.to_string())?;
    if info.kind != SigningKey::Vcek {
        return Err(format!("a {} certificate, not a VCEK", info.kind));
    }
    if let Some(p) = info.product() {
        if p != product {
            return Err(format!(
                "productName {:?} is not {}",
                info.product_name.as_deref().unwrap_or_default(),
                product.kds_name()
            ));
        }
    }
    match info.tcb() {
        Some(t) if t == *tcb => {}
        Some(t) => {
            return Err(format!(
                "certified TCB ({t}) is not the requested one ({tcb})"
            ));
        }
        None => return Err("a TCB (SPL) extension is missing".into()),
    }
    let hwid = chip_id.get(..product.hwid_len()).unwrap_or(chip_id);
    if info.hwid.as_deref() != Some(hwid) {
        return Err(format!(
            "hwID {} is not the requested chip's {}",
            info.hwid
                .as_deref()
                .map(hex_str)
                .unwrap_or_else(|| "(absent)".into()),
            hex_str(hwid)
        ));
    }
    if let Some(root) = anchors.get(product) {
        let (_, ask_key) = root.intermediate(SigningKey::Vcek);
        cert.verify_signed_by(ask_key).map_err(|e| {
            format!(
                "not signed by the pinned SEV-{} ASK: {e}",
                product.kds_name()
            )
        })?;
    }
    Ok(cert)
}

fn check_chain(
    bytes: &[u8],
    product: Product,
    kind: SigningKey,
    anchors: &TrustAnchors,
) -> Result<Vec<Certificate>, String> {
    let certs = parse_certificates(bytes).map_err(|e| e.to_string())?;
    let [inter, ark] = certs.as_slice() else {
        return Err(format!(
            "{} certificates, expected 2 (intermediate then ARK)",
            certs.len()
        ));
    };
    let p = product.kds_name();
    let want_inter = if kind == SigningKey::Vlek {
        format!("SEV-VLEK-{p}")
    } else {
        format!("SEV-{p}")
    };
    let want_ark = format!("ARK-{p}");
    for (cert, want) in [(inter, &want_inter), (ark, &want_ark)] {
        let cn = cert.subject_cn().unwrap_or_default();
        if cn != *want {
            return Err(format!("certificate {cn:?} where {want:?} was expected"));
        }
    }
    let ark_key = ark.public_key().map_err(|e| format!("{want_ark}: {e}"))?;
    ark.verify_signed_by(&ark_key)
        .map_err(|e| format!("{want_ark} is not self-signed: {e}"))?;
    inter
        .verify_signed_by(&ark_key)
        .map_err(|e| format!("{want_inter} is not signed by {want_ark}: {e}"))?;
    if let Some(root) = anchors.get(product) {
        if *ark != root.ark {
            return Err(format!("{want_ark} is not the pinned one"));
        }
    }
    Ok(certs)
}

fn check_crl(bytes: &[u8], product: Product, anchors: &TrustAnchors) -> Result<Crl, String> {
    let crl = Crl::from_der_or_pem(bytes).map_err(|e| format!("not a CRL: {e}"))?;
    if let Some(root) = anchors.get(product) {
        let p = product.kds_name();
        if crl.issuer_der() != root.ark.subject_der() {
            return Err(format!("not issued by ARK-{p}"));
        }
        let key = root.ark.public_key().map_err(|e| format!("ARK-{p}: {e}"))?;
        crl.verify_signed_by(&key)
            .map_err(|e| format!("signature does not verify under ARK-{p}: {e}"))?;
    }
    Ok(crl)
}

fn hex_str(b: &[u8]) -> String {
    shomei_core::hexfmt::encode(b)
}
