//! TPM 2.0 structures (Part 2), big-endian, parsed zero-copy from the received bytes:
//! TPMS_ATTEST, TPML_PCR_SELECTION, TPMT_SIGNATURE, TPMT_PUBLIC / TPM2B_PUBLIC and object names.

use shomei_core::{ParseError, ParseErrorKind, Reader};

use crate::alg::HashAlg;

/// TPM_GENERATED_VALUE.
pub const TPM_GENERATED: u32 = 0xFF54_4347;
/// TPM_ST_ATTEST_QUOTE.
pub const ST_ATTEST_QUOTE: u16 = 0x8018;
/// TPM_ST_ATTEST_CERTIFY.
pub const ST_ATTEST_CERTIFY: u16 = 0x8017;
/// TPM_ST_ATTEST_CREATION.
pub const ST_ATTEST_CREATION: u16 = 0x801A;

/// Most banks a TPML_PCR_SELECTION may list (TPM HASH_COUNT is far below this).
const MAX_BANKS: u32 = 16;
/// Largest sizeofSelect accepted (PCR_SELECT_MAX is 3 for 24 PCRs; 32 covers 256 PCRs).
const MAX_SELECT: u8 = 32;
/// Largest TPM2B accepted anywhere (TPM2B sizes are u16; this is the whole range, bounded).
const MAX_TPM2B: usize = 4096;

fn tpm2b<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8], ParseError> {
    let at = r.offset();
    let n = usize::from(r.u16_be(field)?);
    if n > MAX_TPM2B {
        return Err(ParseError::new(
            field,
            at,
            ParseErrorKind::LengthTooLarge {
                length: u64::from(u16::try_from(n).unwrap_or(u16::MAX)),
                max: 4096,
            },
        ));
    }
    r.take(n, field)
}

fn invalid(field: &'static str, offset: usize, value: u64) -> ParseError {
    ParseError::new(field, offset, ParseErrorKind::InvalidValue { value })
}

/// One bank of a PCR selection: the hash and the selected indices (ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrBank {
    /// TPM_ALG_ID of the bank (kept raw: a selection may name a bank this crate cannot hash).
    pub hash_id: u16,
    /// The pcrSelect bitmap as received.
    pub select: Vec<u8>,
}

impl PcrBank {
    /// The bank's hash, when known.
    pub fn hash(&self) -> Option<HashAlg> {
        HashAlg::from_id(self.hash_id)
    }

    /// Selected PCR indices, ascending (bit j of byte i ⇒ PCR 8·i + j).
    pub fn indices(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, byte) in (0u32..).zip(self.select.iter()) {
            for j in 0..8u32 {
                if byte & (1u8 << j) != 0 {
                    out.push(i.saturating_mul(8).saturating_add(j));
                }
            }
        }
        out
    }
}

/// TPML_PCR_SELECTION.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcrSelection {
    pub banks: Vec<PcrBank>,
}

impl PcrSelection {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let at = r.offset();
        let count = r.u32_be("TPML_PCR_SELECTION.count")?;
        if count > MAX_BANKS {
            return Err(ParseError::new(
                "TPML_PCR_SELECTION.count",
                at,
                ParseErrorKind::LengthTooLarge {
                    length: u64::from(count),
                    max: u64::from(MAX_BANKS),
                },
            ));
        }
        let mut banks = Vec::new();
        for _ in 0..count {
            let hash_id = r.u16_be("TPMS_PCR_SELECTION.hash")?;
            let at = r.offset();
            let size = r.u8("TPMS_PCR_SELECTION.sizeofSelect")?;
            if size > MAX_SELECT {
                return Err(invalid(
                    "TPMS_PCR_SELECTION.sizeofSelect",
                    at,
                    u64::from(size),
                ));
            }
            let select = r
                .take(usize::from(size), "TPMS_PCR_SELECTION.pcrSelect")?
                .to_vec();
            banks.push(PcrBank { hash_id, select });
        }
        Ok(Self { banks })
    }

    /// `sha256:0,1,2+sha1:7` (tpm2-tools' notation).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .banks
            .iter()
            .map(|b| {
                let name = b
                    .hash()
                    .map_or_else(|| format!("{:#06x}", b.hash_id), |h| h.name().to_owned());
                let idx: Vec<String> = b.indices().iter().map(u32::to_string).collect();
                format!("{name}:{}", idx.join(","))
            })
            .collect();
        if parts.is_empty() {
            "(none)".to_owned()
        } else {
            parts.join("+")
        }
    }

    /// (bank, index) pairs in the order the PCR digest concatenates them.
    pub fn ordered(&self) -> Vec<(u16, u32)> {
        self.banks
            .iter()
            .flat_map(|b| b.indices().into_iter().map(move |i| (b.hash_id, i)))
            .collect()
    }
}

/// TPMS_CLOCK_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClockInfo {
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
    pub safe: bool,
}

/// The type-specific part of TPMS_ATTEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested<'a> {
    /// TPMS_QUOTE_INFO.
    Quote {
        selection: PcrSelection,
        pcr_digest: &'a [u8],
    },
    /// TPMS_CERTIFY_INFO.
    Certify {
        name: &'a [u8],
        qualified_name: &'a [u8],
    },
    /// TPMS_CREATION_INFO.
    Creation {
        object_name: &'a [u8],
        creation_hash: &'a [u8],
    },
}

/// TPMS_ATTEST, as received (the signature covers `raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest<'a> {
    pub raw: &'a [u8],
    pub magic: u32,
    pub attest_type: u16,
    pub qualified_signer: &'a [u8],
    pub extra_data: &'a [u8],
    pub clock_info: ClockInfo,
    pub firmware_version: u64,
    pub attested: Attested<'a>,
}

impl<'a> Attest<'a> {
    /// Parses a TPMS_ATTEST (what `tpm2_quote -m` writes). Magic and type are *not* checked here
    /// (verification names those checks); an unknown type is a parse error because its body
    /// cannot be read. Trailing bytes are refused.
    pub fn parse(raw: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(raw);
        let magic = r.u32_be("TPMS_ATTEST.magic")?;
        let at = r.offset();
        let attest_type = r.u16_be("TPMS_ATTEST.type")?;
        let qualified_signer = tpm2b(&mut r, "TPMS_ATTEST.qualifiedSigner")?;
        let extra_data = tpm2b(&mut r, "TPMS_ATTEST.extraData")?;
        let clock = r.array::<8>("TPMS_CLOCK_INFO.clock")?;
        let reset_count = r.u32_be("TPMS_CLOCK_INFO.resetCount")?;
        let restart_count = r.u32_be("TPMS_CLOCK_INFO.restartCount")?;
        let safe_at = r.offset();
        let safe = match r.u8("TPMS_CLOCK_INFO.safe")? {
            0 => false,
            1 => true,
            v => return Err(invalid("TPMS_CLOCK_INFO.safe", safe_at, u64::from(v))),
        };
        let firmware_version = u64::from_be_bytes(r.array("TPMS_ATTEST.firmwareVersion")?);
        let attested = match attest_type {
            ST_ATTEST_QUOTE => {
                let selection = PcrSelection::parse(&mut r)?;
                let pcr_digest = tpm2b(&mut r, "TPMS_QUOTE_INFO.pcrDigest")?;
                Attested::Quote {
                    selection,
                    pcr_digest,
                }
            }
            ST_ATTEST_CERTIFY => Attested::Certify {
                name: tpm2b(&mut r, "TPMS_CERTIFY_INFO.name")?,
                qualified_name: tpm2b(&mut r, "TPMS_CERTIFY_INFO.qualifiedName")?,
            },
            ST_ATTEST_CREATION => Attested::Creation {
                object_name: tpm2b(&mut r, "TPMS_CREATION_INFO.objectName")?,
                creation_hash: tpm2b(&mut r, "TPMS_CREATION_INFO.creationHash")?,
            },
            other => return Err(invalid("TPMS_ATTEST.type", at, u64::from(other))),
        };
        r.finish("TPMS_ATTEST")?;
        Ok(Self {
            raw,
            magic,
            attest_type,
            qualified_signer,
            extra_data,
            clock_info: ClockInfo {
                clock: u64::from_be_bytes(clock),
                reset_count,
                restart_count,
                safe,
            },
            firmware_version,
            attested,
        })
    }
}

/// Signature schemes (TPM_ALG_ID).
pub const ALG_RSASSA: u16 = 0x0014;
pub const ALG_RSAPSS: u16 = 0x0016;
pub const ALG_ECDSA: u16 = 0x0018;
pub const ALG_NULL: u16 = 0x0010;
pub const ALG_RSA: u16 = 0x0001;
pub const ALG_ECC: u16 = 0x0023;

/// TPMT_SIGNATURE (the schemes a quote can be verified with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    RsaSsa {
        hash: HashAlg,
        sig: Vec<u8>,
    },
    RsaPss {
        hash: HashAlg,
        sig: Vec<u8>,
    },
    Ecdsa {
        hash: HashAlg,
        r: Vec<u8>,
        s: Vec<u8>,
    },
}

impl Signature {
    /// Parses a TPMT_SIGNATURE (what `tpm2_quote -s` writes); trailing bytes are refused.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let at = r.offset();
        let alg = r.u16_be("TPMT_SIGNATURE.sigAlg")?;
        let hat = r.offset();
        let hash_id = r.u16_be("TPMT_SIGNATURE.hash")?;
        let hash = HashAlg::from_id(hash_id)
            .ok_or_else(|| invalid("TPMT_SIGNATURE.hash", hat, u64::from(hash_id)))?;
        let sig = match alg {
            ALG_RSASSA => Self::RsaSsa {
                hash,
                sig: tpm2b(&mut r, "TPMS_SIGNATURE_RSA.sig")?.to_vec(),
            },
            ALG_RSAPSS => Self::RsaPss {
                hash,
                sig: tpm2b(&mut r, "TPMS_SIGNATURE_RSA.sig")?.to_vec(),
            },
            ALG_ECDSA => Self::Ecdsa {
                hash,
                r: tpm2b(&mut r, "TPMS_SIGNATURE_ECC.signatureR")?.to_vec(),
                s: tpm2b(&mut r, "TPMS_SIGNATURE_ECC.signatureS")?.to_vec(),
            },
            other => return Err(invalid("TPMT_SIGNATURE.sigAlg", at, u64::from(other))),
        };
        r.finish("TPMT_SIGNATURE")?;
        Ok(sig)
    }

    pub fn hash(&self) -> HashAlg {
        match self {
            Self::RsaSsa { hash, .. } | Self::RsaPss { hash, .. } | Self::Ecdsa { hash, .. } => {
                *hash
            }
        }
    }

    pub fn scheme_name(&self) -> String {
        match self {
            Self::RsaSsa { hash, .. } => format!("rsassa-{hash}"),
            Self::RsaPss { hash, .. } => format!("rsapss-{hash}"),
            Self::Ecdsa { hash, .. } => format!("ecdsa-{hash}"),
        }
    }

    /// Encodes as TPMT_SIGNATURE (for the emulator and tests).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let push2b = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(b);
        };
        match self {
            Self::RsaSsa { hash, sig } | Self::RsaPss { hash, sig } => {
                let alg = if matches!(self, Self::RsaSsa { .. }) {
                    ALG_RSASSA
                } else {
                    ALG_RSAPSS
                };
                out.extend_from_slice(&alg.to_be_bytes());
                out.extend_from_slice(&hash.id().to_be_bytes());
                push2b(&mut out, sig);
            }
            Self::Ecdsa { hash, r, s } => {
                out.extend_from_slice(&ALG_ECDSA.to_be_bytes());
                out.extend_from_slice(&hash.id().to_be_bytes());
                push2b(&mut out, r);
                push2b(&mut out, s);
            }
        }
        out
    }
}

/// ECC curves (TPM_ECC_CURVE) this crate verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Curve {
    P256,
    P384,
}

impl Curve {
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x0003 => Some(Self::P256),
            0x0004 => Some(Self::P384),
            _ => None,
        }
    }
    pub fn id(self) -> u16 {
        match self {
            Self::P256 => 0x0003,
            Self::P384 => 0x0004,
        }
    }
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

/// The key part of a TPMT_PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyParams<'a> {
    Rsa {
        /// Signing scheme (TPM_ALG_NULL when unrestricted) and its hash.
        scheme: u16,
        scheme_hash: Option<HashAlg>,
        key_bits: u16,
        /// The exponent as stored (0 ⇒ 65537).
        exponent: u32,
        modulus: &'a [u8],
    },
    Ecc {
        scheme: u16,
        scheme_hash: Option<HashAlg>,
        curve_id: u16,
        x: &'a [u8],
        y: &'a [u8],
    },
}

/// TPMT_SYM_DEF_OBJECT (the symmetric part of a storage key such as an EK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymDef {
    pub alg: u16,
    pub key_bits: u16,
    pub mode: u16,
}

/// TPMT_PUBLIC, as received (the name hashes `raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public<'a> {
    pub raw: &'a [u8],
    pub key_type: u16,
    pub name_alg: HashAlg,
    pub attributes: u32,
    pub auth_policy: &'a [u8],
    pub symmetric: Option<SymDef>,
    pub params: PublicKeyParams<'a>,
}

/// Object attribute bits (TPMA_OBJECT).
pub mod attr {
    pub const FIXED_TPM: u32 = 0x2;
    pub const FIXED_PARENT: u32 = 0x10;
    pub const SENSITIVE_DATA_ORIGIN: u32 = 0x20;
    pub const USER_WITH_AUTH: u32 = 0x40;
    pub const RESTRICTED: u32 = 0x1_0000;
    pub const DECRYPT: u32 = 0x2_0000;
    pub const SIGN: u32 = 0x4_0000;
}

fn scheme(r: &mut Reader<'_>) -> Result<(u16, Option<HashAlg>), ParseError> {
    let scheme = r.u16_be("TPMT_SCHEME.scheme")?;
    if scheme == ALG_NULL {
        return Ok((scheme, None));
    }
    let at = r.offset();
    let h = r.u16_be("TPMT_SCHEME.hashAlg")?;
    let hash =
        HashAlg::from_id(h).ok_or_else(|| invalid("TPMT_SCHEME.hashAlg", at, u64::from(h)))?;
    Ok((scheme, Some(hash)))
}

impl<'a> Public<'a> {
    /// Parses a TPM2B_PUBLIC (u16 size + TPMT_PUBLIC), as `tpm2_readpublic -f tss` writes it.
    pub fn parse_tpm2b(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let n = usize::from(r.u16_be("TPM2B_PUBLIC.size")?);
        let at = r.offset();
        let body = r.take(n, "TPM2B_PUBLIC.publicArea")?;
        r.finish("TPM2B_PUBLIC")?;
        let mut p = Self::parse(body).map_err(|mut e| {
            e.offset = e.offset.saturating_add(at);
            e
        })?;
        p.raw = body;
        Ok(p)
    }

    /// Parses a TPMT_PUBLIC (RSA or ECC); trailing bytes are refused.
    pub fn parse(raw: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(raw);
        let tat = r.offset();
        let key_type = r.u16_be("TPMT_PUBLIC.type")?;
        let nat = r.offset();
        let na = r.u16_be("TPMT_PUBLIC.nameAlg")?;
        let name_alg = HashAlg::from_id(na)
            .ok_or_else(|| invalid("TPMT_PUBLIC.nameAlg", nat, u64::from(na)))?;
        let attributes = r.u32_be("TPMT_PUBLIC.objectAttributes")?;
        let auth_policy = tpm2b(&mut r, "TPMT_PUBLIC.authPolicy")?;
        let sym_alg = r.u16_be("TPMT_SYM_DEF_OBJECT.algorithm")?;
        let symmetric = if sym_alg == ALG_NULL {
            None
        } else {
            Some(SymDef {
                alg: sym_alg,
                key_bits: r.u16_be("TPMT_SYM_DEF_OBJECT.keyBits")?,
                mode: r.u16_be("TPMT_SYM_DEF_OBJECT.mode")?,
            })
        };
        let params = match key_type {
            ALG_RSA => {
                let (scheme, scheme_hash) = scheme(&mut r)?;
                let key_bits = r.u16_be("TPMS_RSA_PARMS.keyBits")?;
                let exponent = r.u32_be("TPMS_RSA_PARMS.exponent")?;
                let modulus = tpm2b(&mut r, "TPM2B_PUBLIC_KEY_RSA")?;
                PublicKeyParams::Rsa {
                    scheme,
                    scheme_hash,
                    key_bits,
                    exponent,
                    modulus,
                }
            }
            ALG_ECC => {
                let (scheme, scheme_hash) = scheme(&mut r)?;
                let curve_id = r.u16_be("TPMS_ECC_PARMS.curveID")?;
                let kdf = r.u16_be("TPMS_ECC_PARMS.kdf")?;
                if kdf != ALG_NULL {
                    r.u16_be("TPMS_ECC_PARMS.kdf.hashAlg")?;
                }
                let x = tpm2b(&mut r, "TPMS_ECC_POINT.x")?;
                let y = tpm2b(&mut r, "TPMS_ECC_POINT.y")?;
                PublicKeyParams::Ecc {
                    scheme,
                    scheme_hash,
                    curve_id,
                    x,
                    y,
                }
            }
            other => return Err(invalid("TPMT_PUBLIC.type", tat, u64::from(other))),
        };
        r.finish("TPMT_PUBLIC")?;
        Ok(Self {
            raw,
            key_type,
            name_alg,
            attributes,
            auth_policy,
            symmetric,
            params,
        })
    }

    /// Name = nameAlg (u16 BE) ‖ H_nameAlg(TPMT_PUBLIC as received).
    pub fn name(&self) -> Vec<u8> {
        let mut out = self.name_alg.id().to_be_bytes().to_vec();
        out.extend_from_slice(&self.name_alg.digest(self.raw));
        out
    }

    /// Whether the attributes are those of an attestation key: restricted, sign, fixedTPM,
    /// fixedParent, sensitiveDataOrigin, and not decrypt.
    pub fn check_ak_attributes(&self) -> Result<(), &'static str> {
        let a = self.attributes;
        let need = [
            (attr::RESTRICTED, "not restricted"),
            (attr::SIGN, "not a signing key"),
            (attr::FIXED_TPM, "not fixedTPM"),
            (attr::FIXED_PARENT, "not fixedParent"),
            (attr::SENSITIVE_DATA_ORIGIN, "not sensitiveDataOrigin"),
        ];
        for (bit, why) in need {
            if a & bit == 0 {
                return Err(why);
            }
        }
        if a & attr::DECRYPT != 0 {
            return Err("a decryption key");
        }
        Ok(())
    }
}
