//! Quote (and certify / certify-creation) verification: signature over the received TPMS_ATTEST,
//! magic, type, nonce, signed PCR selection against the supplied PCRs, and pcrDigest recomputed
//! with the signing scheme's hash.

use std::collections::BTreeMap;

use crate::alg::HashAlg;
use crate::keys::{AnySignature, AttestationKey, Verified, verify_signature};
use crate::structures::{
    Attest, Attested, ClockInfo, PcrSelection, ST_ATTEST_CERTIFY, ST_ATTEST_CREATION,
    ST_ATTEST_QUOTE, TPM_GENERATED,
};
use crate::{Error, Rejection};

/// PCR values by bank and index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcrValues(pub BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>);

impl PcrValues {
    pub fn insert(&mut self, bank: HashAlg, index: u32, value: Vec<u8>) {
        self.0.entry(bank).or_default().insert(index, value);
    }

    pub fn get(&self, bank: HashAlg, index: u32) -> Option<&[u8]> {
        self.0.get(&bank)?.get(&index).map(Vec::as_slice)
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(b, m)| {
                let idx: Vec<String> = m.keys().map(u32::to_string).collect();
                format!("{b}:{}", idx.join(","))
            })
            .collect();
        if parts.is_empty() {
            "(none)".to_owned()
        } else {
            parts.join("+")
        }
    }
}

/// Verification options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteOptions {
    /// Accept SHA-1 signatures and SHA-1 PCR banks (off by default).
    pub allow_sha1: bool,
    /// Require the AK's TPMA_OBJECT to be those of an AK (only when the key came with them).
    pub check_ak_attributes: bool,
}

impl Default for QuoteOptions {
    fn default() -> Self {
        Self {
            allow_sha1: false,
            check_ak_attributes: true,
        }
    }
}

/// A TPMS_ATTEST whose signature, magic and nonce verified. Only verification constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAttest {
    attest_type: u16,
    extra_data: Vec<u8>,
    qualified_signer: Vec<u8>,
    clock_info: ClockInfo,
    firmware_version: u64,
    scheme: String,
    pss_salt_len: Option<usize>,
    sig_hash: HashAlg,
}

impl VerifiedAttest {
    pub fn attest_type(&self) -> u16 {
        self.attest_type
    }
    pub fn nonce(&self) -> &[u8] {
        &self.extra_data
    }
    pub fn qualified_signer(&self) -> &[u8] {
        &self.qualified_signer
    }
    pub fn clock_info(&self) -> ClockInfo {
        self.clock_info
    }
    pub fn firmware_version(&self) -> u64 {
        self.firmware_version
    }
    /// `rsassa-sha256`, `rsapss-sha256`, `ecdsa-sha256`, …
    pub fn scheme(&self) -> &str {
        &self.scheme
    }
    /// The detected RSA-PSS salt length.
    pub fn pss_salt_len(&self) -> Option<usize> {
        self.pss_salt_len
    }
    pub fn signature_hash(&self) -> HashAlg {
        self.sig_hash
    }
}

/// A verified quote. Only [`verify_quote`] constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    attest: VerifiedAttest,
    selection: PcrSelection,
    pcr_digest: Vec<u8>,
    pcrs: PcrValues,
}

impl VerifiedQuote {
    pub fn attest(&self) -> &VerifiedAttest {
        &self.attest
    }
    pub fn selection(&self) -> &PcrSelection {
        &self.selection
    }
    pub fn pcr_digest(&self) -> &[u8] {
        &self.pcr_digest
    }
    /// The PCR values the signed digest covers (exactly the signed selection).
    pub fn pcrs(&self) -> &PcrValues {
        &self.pcrs
    }
}

fn hexs(b: &[u8]) -> String {
    hex::encode(b)
}

/// Checks the signature over the received bytes, then magic, type and nonce.
pub fn verify_attest<'a>(
    message: &'a [u8],
    signature: &AnySignature,
    ak: &AttestationKey,
    expected_type: u16,
    nonce: &[u8],
    opts: &QuoteOptions,
) -> Result<(Attest<'a>, VerifiedAttest), Error> {
    let attest = Attest::parse(message)?;
    if opts.check_ak_attributes {
        if let Some(a) = ak.attributes {
            let p = crate::structures::attr::RESTRICTED | crate::structures::attr::SIGN;
            if a & p != p {
                return Err(Rejection::AkAttributes {
                    attributes: a,
                    why: "not a restricted signing key",
                }
                .into());
            }
        }
    }
    let (sig_hash, scheme, how) =
        verify_signature(ak, signature, message).map_err(|(what, bad_sig)| -> Error {
            if bad_sig {
                Rejection::Signature { scheme: what }.into()
            } else {
                Rejection::SignatureAlgorithm(what).into()
            }
        })?;
    if sig_hash == HashAlg::Sha1 && !opts.allow_sha1 {
        return Err(Rejection::Sha1NotAllowed("the signature").into());
    }
    if attest.magic != TPM_GENERATED {
        return Err(Rejection::Magic {
            found: attest.magic,
        }
        .into());
    }
    if attest.attest_type != expected_type {
        return Err(Rejection::AttestType {
            found: attest.attest_type,
            expected: expected_type,
        }
        .into());
    }
    if aws_lc_rs::constant_time::verify_slices_are_equal(attest.extra_data, nonce).is_err() {
        return Err(Rejection::Nonce {
            found: hexs(attest.extra_data),
            expected: hexs(nonce),
        }
        .into());
    }
    let v = VerifiedAttest {
        attest_type: attest.attest_type,
        extra_data: attest.extra_data.to_vec(),
        qualified_signer: attest.qualified_signer.to_vec(),
        clock_info: attest.clock_info,
        firmware_version: attest.firmware_version,
        scheme,
        pss_salt_len: match how {
            Verified::RsaPss { salt_len } => Some(salt_len),
            _ => None,
        },
        sig_hash,
    };
    Ok((attest, v))
}

/// Verifies a quote: signature, magic, type QUOTE, nonce = extraData, the signed selection equals
/// the PCRs in `pcrs` (every bank and index, no more, no fewer), and pcrDigest =
/// H_sig(values in selection order).
pub fn verify_quote(
    message: &[u8],
    signature: &AnySignature,
    ak: &AttestationKey,
    nonce: &[u8],
    pcrs: &PcrValues,
    opts: &QuoteOptions,
) -> Result<VerifiedQuote, Error> {
    let (attest, verified) = verify_attest(message, signature, ak, ST_ATTEST_QUOTE, nonce, opts)?;
    let Attested::Quote {
        selection,
        pcr_digest,
    } = attest.attested
    else {
        return Err(Rejection::AttestType {
            found: attest.attest_type,
            expected: ST_ATTEST_QUOTE,
        }
        .into());
    };
    // The signed selection, as a set, must equal the supplied one (and list no PCR twice).
    let reject = || -> Error {
        Rejection::PcrSelection {
            signed: selection.describe(),
            supplied: pcrs.describe(),
        }
        .into()
    };
    let mut order = Vec::new();
    for bank in &selection.banks {
        let Some(h) = bank.hash() else {
            return Err(reject());
        };
        let indices = bank.indices();
        if h == HashAlg::Sha1 && !opts.allow_sha1 && !indices.is_empty() {
            return Err(Rejection::Sha1NotAllowed("the PCR selection").into());
        }
        order.extend(indices.into_iter().map(|i| (h, i)));
    }
    let signed: std::collections::BTreeSet<(HashAlg, u32)> = order.iter().copied().collect();
    let supplied: std::collections::BTreeSet<(HashAlg, u32)> = pcrs
        .0
        .iter()
        .flat_map(|(b, m)| m.keys().map(move |i| (*b, *i)))
        .collect();
    if signed != supplied || signed.len() != order.len() {
        return Err(reject());
    }
    let mut c = verified.sig_hash.context();
    for (b, i) in &order {
        c.update(pcrs.get(*b, *i).unwrap_or(&[]));
    }
    let computed = c.finish().as_ref().to_vec();
    if aws_lc_rs::constant_time::verify_slices_are_equal(&computed, pcr_digest).is_err() {
        return Err(Rejection::PcrDigest {
            signed: hexs(pcr_digest),
            computed: hexs(&computed),
            hash: verified.sig_hash.name(),
        }
        .into());
    }
    let mut kept = PcrValues::default();
    for (b, i) in &order {
        kept.insert(*b, *i, pcrs.get(*b, *i).unwrap_or(&[]).to_vec());
    }
    Ok(VerifiedQuote {
        attest: verified,
        selection,
        pcr_digest: pcr_digest.to_vec(),
        pcrs: kept,
    })
}

/// The signed PCR selection of a quote message, without verifying anything (to know which PCR
/// values to gather, e.g. from an event-log replay, before [`verify_quote`]).
pub fn quote_selection(message: &[u8]) -> Result<PcrSelection, Error> {
    match Attest::parse(message)?.attested {
        Attested::Quote { selection, .. } => Ok(selection),
        _ => Ok(PcrSelection::default()),
    }
}

/// A verified TPM2_Certify or TPM2_CertifyCreation over an object. Only
/// [`verify_certify`] constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertify {
    attest: VerifiedAttest,
    object_name: Vec<u8>,
}

impl VerifiedCertify {
    pub fn attest(&self) -> &VerifiedAttest {
        &self.attest
    }
    pub fn object_name(&self) -> &[u8] {
        &self.object_name
    }
}

/// Verifies a TPMS_ATTEST of type CERTIFY (0x8017) or CREATION (0x801A) by `signer` over the
/// object named `expected_name` (e.g. go-attestation's AK certify-creation check).
pub fn verify_certify(
    message: &[u8],
    signature: &AnySignature,
    signer: &AttestationKey,
    nonce: &[u8],
    expected_name: &[u8],
    creation: bool,
    opts: &QuoteOptions,
) -> Result<VerifiedCertify, Error> {
    let t = if creation {
        ST_ATTEST_CREATION
    } else {
        ST_ATTEST_CERTIFY
    };
    let (attest, verified) = verify_attest(message, signature, signer, t, nonce, opts)?;
    let name = match attest.attested {
        Attested::Certify { name, .. } => name,
        Attested::Creation { object_name, .. } => object_name,
        Attested::Quote { .. } => &[],
    };
    if name != expected_name {
        return Err(Rejection::ObjectName {
            found: hexs(name),
            expected: hexs(expected_name),
        }
        .into());
    }
    Ok(VerifiedCertify {
        attest: verified,
        object_name: name.to_vec(),
    })
}
