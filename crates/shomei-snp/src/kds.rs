//! AMD Key Distribution Service (KDS, spec 57230) URLs and cache keys. Pure: the fetching and
//! the cache directory live in `shomei-kds`.

use crate::{Product, SigningKey, Tcb};

/// AMD's KDS.
pub const KDS_BASE: &str = "https://kdsintf.amd.com";

fn kind_path(kind: SigningKey) -> &'static str {
    if kind == SigningKey::Vlek {
        "vlek"
    } else {
        "vcek"
    }
}

/// The hwID as KDS wants it: CHIP_ID's 64 bytes (Milan/Genoa) or its first 8 (Turin).
pub fn hwid_hex(product: Product, chip_id: &[u8; 64]) -> String {
    hex::encode(chip_id.get(..product.hwid_len()).unwrap_or(chip_id))
}

/// `GET {base}/vcek/v1/{P}/{hwid}?[fmcSPL=..&]blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..`
pub fn vcek_url(base: &str, product: Product, chip_id: &[u8; 64], tcb: &Tcb) -> String {
    let base = base.trim_end_matches('/');
    let mut q = String::new();
    if product.has_fmc() {
        q.push_str(&format!("fmcSPL={:02}&", tcb.fmc.unwrap_or(0)));
    }
    q.push_str(&format!(
        "blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
        tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode
    ));
    format!(
        "{base}/vcek/v1/{}/{}?{q}",
        product.kds_name(),
        hwid_hex(product, chip_id)
    )
}

/// `GET {base}/{vcek|vlek}/v1/{P}/cert_chain`: PEM, intermediate (ASK or ASVK) then ARK.
pub fn cert_chain_url(base: &str, product: Product, kind: SigningKey) -> String {
    format!(
        "{}/{}/v1/{}/cert_chain",
        base.trim_end_matches('/'),
        kind_path(kind),
        product.kds_name()
    )
}

/// `GET {base}/{vcek|vlek}/v1/{P}/crl`: DER, signed by the ARK.
pub fn crl_url(base: &str, product: Product, kind: SigningKey) -> String {
    format!(
        "{}/{}/v1/{}/crl",
        base.trim_end_matches('/'),
        kind_path(kind),
        product.kds_name()
    )
}

/// The cache path of a VCEK, relative to the cache root: keyed by (product, hwID, TCB incl.
/// FMC). A VCEK for a given chip and TCB never changes, so entries never expire.
pub fn vcek_cache_path(product: Product, chip_id: &[u8; 64], tcb: &Tcb) -> String {
    let fmc = tcb.fmc.map(|f| format!("fmc{f:02}_")).unwrap_or_default();
    format!(
        "{}/vcek/{}/{fmc}bl{:02}_tee{:02}_snp{:02}_ucode{:02}.der",
        product,
        hwid_hex(product, chip_id),
        tcb.bootloader,
        tcb.tee,
        tcb.snp,
        tcb.microcode
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turin_url_uses_the_8_byte_hwid_and_fmc() {
        let mut chip = [0u8; 64];
        chip[..8].copy_from_slice(&[0x6b, 0xb1, 0x22, 0x9b, 0x76, 0x92, 0xb7, 0x10]);
        let tcb = Tcb {
            fmc: Some(1),
            bootloader: 1,
            tee: 1,
            snp: 4,
            microcode: 82,
        };
        assert_eq!(
            vcek_url(KDS_BASE, Product::Turin, &chip, &tcb),
            "https://kdsintf.amd.com/vcek/v1/Turin/6bb1229b7692b710?fmcSPL=01&blSPL=01&teeSPL=01&snpSPL=04&ucodeSPL=82"
        );
    }

    #[test]
    fn milan_url_uses_the_64_byte_hwid() {
        let chip = [0xabu8; 64];
        let tcb = Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
        };
        let u = vcek_url("http://x/", Product::Milan, &chip, &tcb);
        assert_eq!(
            u,
            format!(
                "http://x/vcek/v1/Milan/{}?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115",
                "ab".repeat(64)
            )
        );
        assert_eq!(
            cert_chain_url("http://x", Product::Genoa, SigningKey::Vlek),
            "http://x/vlek/v1/Genoa/cert_chain"
        );
        assert_eq!(
            crl_url("http://x", Product::Milan, SigningKey::Vcek),
            "http://x/vcek/v1/Milan/crl"
        );
    }
}
