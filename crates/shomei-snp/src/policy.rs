//! Appraisal policy for verified reports, at least as complete as go-sev-guest's `validate`
//! options, with two differences: unknown PLATFORM_INFO bits never fail (only *required* bits
//! do), and provisional firmware is an explicit switch.
//!
//! Defaults (an empty policy file): debug refused, provisional firmware refused, migration agent
//! refused, CXL refused, SMT allowed, no reference values.

use serde::{Deserialize, Serialize};
use shomei_core::policy::one_of;
pub use shomei_core::policy::{HexBytes, Violation};

use crate::bits::{GuestPolicy, PlatformInfo};
use crate::{Report, SigningKey, Tcb, TcbComponent, VerifiedReport};

/// A TCB minimum: each component that is set must be met.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinTcb {
    pub fmc: Option<u8>,
    pub bootloader: Option<u8>,
    pub tee: Option<u8>,
    pub snp: Option<u8>,
    pub microcode: Option<u8>,
}

impl MinTcb {
    /// Parses `bl=3,tee=0,snp=8,ucode=115[,fmc=1]` (long names accepted too).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut m = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected name=value"))?;
            let v: u8 = v
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: value must be 0-255"))?;
            match k.trim() {
                "fmc" => m.fmc = Some(v),
                "bl" | "bootloader" => m.bootloader = Some(v),
                "tee" => m.tee = Some(v),
                "snp" => m.snp = Some(v),
                "ucode" | "microcode" => m.microcode = Some(v),
                other => {
                    return Err(format!(
                        "unknown TCB component {other:?} (fmc, bl, tee, snp, ucode)"
                    ));
                }
            }
        }
        Ok(m)
    }

    fn check(&self, what: &str, t: &Tcb, out: &mut Vec<Violation>) {
        let wanted = [
            (TcbComponent::Fmc, self.fmc),
            (TcbComponent::Bootloader, self.bootloader),
            (TcbComponent::Tee, self.tee),
            (TcbComponent::Snp, self.snp),
            (TcbComponent::Microcode, self.microcode),
        ];
        for (c, min) in wanted {
            let Some(min) = min else { continue };
            match t.get(c) {
                Some(v) if v >= min => {}
                got => out.push(Violation::new(
                    format!("min_tcb.{c}"),
                    format!(
                        "{what} {c} is {}, the policy requires at least {min}",
                        got.map(|g| g.to_string())
                            .unwrap_or_else(|| "absent".into())
                    ),
                )),
            }
        }
    }
}

/// A `major.minor` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MajorMinor(pub u8, pub u8);

impl TryFrom<String> for MajorMinor {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (a, b) = s.split_once('.').unwrap_or((&s, "0"));
        Ok(Self(
            a.trim()
                .parse()
                .map_err(|_| format!("{s:?}: expected major.minor"))?,
            b.trim()
                .parse()
                .map_err(|_| format!("{s:?}: expected major.minor"))?,
        ))
    }
}

impl From<MajorMinor> for String {
    fn from(v: MajorMinor) -> String {
        format!("{}.{}", v.0, v.1)
    }
}

/// An SNP appraisal policy (TOML; every key optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    // Guest policy flags that are *permissions*: refused when set unless allowed.
    pub allow_debug: bool,
    pub allow_migration_agent: bool,
    pub allow_smt: bool,
    pub allow_cxl: bool,
    /// Guest-policy bits 63:26 that may be set (default: none).
    pub allow_unknown_policy_bits: u64,
    // Guest policy flags that are *restrictions*: refused when required and absent.
    pub require_single_socket: bool,
    pub require_aes_256_xts: bool,
    pub require_rapl_disabled: bool,
    pub require_ciphertext_hiding: bool,
    pub require_page_swap_disabled: bool,
    /// Minimum ABI version in the guest policy (`major.minor`).
    pub min_abi: Option<MajorMinor>,

    pub allow_provisional_firmware: bool,
    /// Minimum firmware version (`major.minor`) of CURRENT and COMMITTED.
    pub min_firmware_version: Option<MajorMinor>,
    /// Minimum firmware build of CURRENT and COMMITTED.
    pub min_build: Option<u8>,
    /// Minimum TCB of CURRENT, COMMITTED and REPORTED.
    pub min_tcb: MinTcb,
    /// Minimum LAUNCH_TCB.
    pub min_launch_tcb: MinTcb,
    pub min_guest_svn: Option<u32>,
    /// Bits that must be set in LAUNCH_MIT_VECTOR / CURRENT_MIT_VECTOR (report v5).
    pub required_launch_mit_vector: u64,
    pub required_current_mit_vector: u64,

    /// The exact VMPL the report must have been requested at.
    pub vmpl: Option<u32>,
    /// Accepted signing keys (default: VCEK and VLEK).
    pub signing_keys: Vec<SigningKey>,
    /// PLATFORM_INFO bits that must be set, by name (`smt_enabled`, `tsme_enabled`,
    /// `ecc_enabled`, `rapl_disabled`, `ciphertext_hiding_enabled`, `alias_check_complete`,
    /// `iommu_write_safe`, `tio_enabled`).
    pub required_platform_info: Vec<String>,
    /// PLATFORM_INFO bits that must not be set, by name.
    pub forbidden_platform_info: Vec<String>,

    // Reference values. Lists are allowlists; a single value is an exact match.
    pub measurements: Vec<HexBytes>,
    /// Compared after zero-padding to 64 bytes.
    pub report_data: Option<HexBytes>,
    /// Compared after zero-padding to 32 bytes.
    pub host_data: Option<HexBytes>,
    pub id_key_digests: Vec<HexBytes>,
    pub author_key_digests: Vec<HexBytes>,
    pub require_author_key: bool,
    pub family_id: Option<HexBytes>,
    pub image_id: Option<HexBytes>,
    pub chip_ids: Vec<HexBytes>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allow_debug: false,
            allow_migration_agent: false,
            allow_smt: true,
            allow_cxl: false,
            allow_unknown_policy_bits: 0,
            require_single_socket: false,
            require_aes_256_xts: false,
            require_rapl_disabled: false,
            require_ciphertext_hiding: false,
            require_page_swap_disabled: false,
            min_abi: None,
            allow_provisional_firmware: false,
            min_firmware_version: None,
            min_build: None,
            min_tcb: MinTcb::default(),
            min_launch_tcb: MinTcb::default(),
            min_guest_svn: None,
            required_launch_mit_vector: 0,
            required_current_mit_vector: 0,
            vmpl: None,
            signing_keys: Vec::new(),
            required_platform_info: Vec::new(),
            forbidden_platform_info: Vec::new(),
            measurements: Vec::new(),
            report_data: None,
            host_data: None,
            id_key_digests: Vec::new(),
            author_key_digests: Vec::new(),
            require_author_key: false,
            family_id: None,
            image_id: None,
            chip_ids: Vec::new(),
        }
    }
}

fn padded(want: &[u8], len: usize) -> Option<Vec<u8>> {
    (want.len() <= len).then(|| {
        let mut v = want.to_vec();
        v.resize(len, 0);
        v
    })
}

impl Policy {
    /// Reads a TOML policy.
    pub fn from_toml(s: &str) -> Result<Self, String> {
        toml::from_str(s).map_err(|e| e.to_string())
    }

    /// Checks every rule and returns every violation (empty: the report is acceptable).
    pub fn appraise(&self, verified: &VerifiedReport) -> Vec<Violation> {
        let r = verified.report();
        let product = verified.product();
        let mut out = Vec::new();
        self.guest_policy(&r, &mut out);
        self.firmware(&r, product, &mut out);
        self.platform(&r, verified.signer().kind, &mut out);
        self.reference_values(&r, &mut out);
        out
    }

    /// [`Policy::appraise`] as a verdict: the first violation is the error.
    pub fn check(&self, verified: &VerifiedReport) -> Result<(), Violation> {
        match self.appraise(verified).into_iter().next() {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    fn guest_policy(&self, r: &Report<'_>, out: &mut Vec<Violation>) {
        let p = r.policy();
        let permissions = [
            (
                "debug",
                GuestPolicy::DEBUG,
                self.allow_debug,
                "DEBUG is set",
            ),
            (
                "migration_agent",
                GuestPolicy::MIGRATE_MA,
                self.allow_migration_agent,
                "MIGRATE_MA is set",
            ),
            (
                "smt",
                GuestPolicy::SMT,
                self.allow_smt,
                "SMT is allowed by the guest policy",
            ),
            (
                "cxl",
                GuestPolicy::CXL_ALLOW,
                self.allow_cxl,
                "CXL_ALLOW is set",
            ),
        ];
        for (check, bit, allowed, what) in permissions {
            if p.has(bit) && !allowed {
                out.push(Violation::new(
                    check,
                    format!("{what}; the policy does not allow it"),
                ));
            }
        }
        let restrictions = [
            (
                "single_socket",
                GuestPolicy::SINGLE_SOCKET,
                self.require_single_socket,
                "SINGLE_SOCKET",
            ),
            (
                "aes_256_xts",
                GuestPolicy::MEM_AES_256_XTS,
                self.require_aes_256_xts,
                "MEM_AES_256_XTS",
            ),
            (
                "rapl_disabled",
                GuestPolicy::RAPL_DIS,
                self.require_rapl_disabled,
                "RAPL_DIS",
            ),
            (
                "ciphertext_hiding",
                GuestPolicy::CIPHERTEXT_HIDING,
                self.require_ciphertext_hiding,
                "CIPHERTEXT_HIDING",
            ),
            (
                "page_swap_disabled",
                GuestPolicy::PAGE_SWAP_DISABLE,
                self.require_page_swap_disabled,
                "PAGE_SWAP_DISABLE",
            ),
        ];
        for (check, bit, required, name) in restrictions {
            if required && !p.has(bit) {
                out.push(Violation::new(
                    check,
                    format!("the policy requires {name}, the guest policy lacks it"),
                ));
            }
        }
        let unknown = p.unknown_bits() & !self.allow_unknown_policy_bits;
        if unknown != 0 {
            out.push(Violation::new(
                "guest_policy_bits",
                format!("guest policy sets undefined bits {unknown:#x}"),
            ));
        }
        if let Some(min) = self.min_abi {
            let got = MajorMinor(p.abi_major(), p.abi_minor());
            if got < min {
                out.push(Violation::new(
                    "abi_version",
                    format!(
                        "guest policy ABI {}.{} is below {}.{}",
                        got.0, got.1, min.0, min.1
                    ),
                ));
            }
        }
    }

    fn firmware(&self, r: &Report<'_>, product: crate::Product, out: &mut Vec<Violation>) {
        if !self.allow_provisional_firmware && r.is_provisional_firmware() {
            out.push(Violation::new(
                "provisional_firmware",
                format!(
                    "committed firmware ({} TCB {}) differs from current ({} TCB {})",
                    r.committed_version(),
                    r.committed_tcb().decode(product),
                    r.current_version(),
                    r.current_tcb().decode(product)
                ),
            ));
        }
        for (what, v) in [
            ("current", r.current_version()),
            ("committed", r.committed_version()),
        ] {
            if let Some(min) = self.min_firmware_version {
                if MajorMinor(v.major, v.minor) < min {
                    out.push(Violation::new(
                        "firmware_version",
                        format!("{what} firmware {v} is below {}.{}", min.0, min.1),
                    ));
                }
            }
            if let Some(min) = self.min_build {
                if v.build < min {
                    out.push(Violation::new(
                        "firmware_build",
                        format!("{what} firmware build {} is below {min}", v.build),
                    ));
                }
            }
        }
        for (what, t) in [
            ("CURRENT_TCB", r.current_tcb()),
            ("COMMITTED_TCB", r.committed_tcb()),
            ("REPORTED_TCB", r.reported_tcb()),
        ] {
            self.min_tcb.check(what, &t.decode(product), out);
        }
        let before = out.len();
        self.min_launch_tcb
            .check("LAUNCH_TCB", &r.launch_tcb().decode(product), out);
        for v in out.iter_mut().skip(before) {
            v.check = v.check.replace("min_tcb", "min_launch_tcb");
        }
        if let Some(min) = self.min_guest_svn {
            if r.guest_svn() < min {
                out.push(Violation::new(
                    "guest_svn",
                    format!("GUEST_SVN {} is below {min}", r.guest_svn()),
                ));
            }
        }
        for (check, want, got) in [
            (
                "launch_mit_vector",
                self.required_launch_mit_vector,
                r.launch_mit_vector(),
            ),
            (
                "current_mit_vector",
                self.required_current_mit_vector,
                r.current_mit_vector(),
            ),
        ] {
            if want != 0 && got.unwrap_or(0) & want != want {
                out.push(Violation::new(
                    check,
                    format!(
                        "mitigation bits {want:#x} required, the report has {}",
                        got.map(|g| format!("{g:#x}"))
                            .unwrap_or_else(|| "none (report < v5)".into())
                    ),
                ));
            }
        }
    }

    fn platform(&self, r: &Report<'_>, signer: SigningKey, out: &mut Vec<Violation>) {
        if let Some(v) = self.vmpl {
            if r.vmpl() != v {
                out.push(Violation::new(
                    "vmpl",
                    format!(
                        "report requested at VMPL {}, the policy requires VMPL {v}",
                        r.vmpl()
                    ),
                ));
            }
        }
        if !self.signing_keys.is_empty() && !self.signing_keys.contains(&signer) {
            out.push(Violation::new(
                "signing_key",
                format!("signed by the {signer}, which the policy does not accept"),
            ));
        }
        let pi = r.platform_info();
        for name in &self.required_platform_info {
            match PlatformInfo::bit_by_name(name) {
                Some(bit) if pi.has(bit) => {}
                Some(_) => out.push(Violation::new(
                    "platform_info",
                    format!(
                        "PLATFORM_INFO {} lacks required {name}",
                        format_args!("{:#x}", pi.0)
                    ),
                )),
                None => out.push(Violation::new(
                    "platform_info",
                    format!("unknown PLATFORM_INFO bit name {name:?} in the policy"),
                )),
            }
        }
        for name in &self.forbidden_platform_info {
            match PlatformInfo::bit_by_name(name) {
                Some(bit) if !pi.has(bit) => {}
                Some(_) => out.push(Violation::new(
                    "platform_info",
                    format!("PLATFORM_INFO {:#x} has forbidden {name}", pi.0),
                )),
                None => out.push(Violation::new(
                    "platform_info",
                    format!("unknown PLATFORM_INFO bit name {name:?} in the policy"),
                )),
            }
        }
    }

    fn reference_values(&self, r: &Report<'_>, out: &mut Vec<Violation>) {
        one_of("measurement", r.measurement(), &self.measurements, out);
        one_of(
            "id_key_digest",
            r.id_key_digest(),
            &self.id_key_digests,
            out,
        );
        one_of(
            "author_key_digest",
            r.author_key_digest(),
            &self.author_key_digests,
            out,
        );
        if self.require_author_key && !r.key_info().author_key_en() {
            out.push(Violation::new(
                "author_key",
                "no author key signed the ID block",
            ));
        }
        one_of("chip_id", r.chip_id(), &self.chip_ids, out);
        let exact: [(&str, Option<&HexBytes>, &[u8]); 4] = [
            ("report_data", self.report_data.as_ref(), r.report_data()),
            ("host_data", self.host_data.as_ref(), r.host_data()),
            ("family_id", self.family_id.as_ref(), r.family_id()),
            ("image_id", self.image_id.as_ref(), r.image_id()),
        ];
        for (check, want, got) in exact {
            let Some(want) = want else { continue };
            if padded(&want.0, got.len()).as_deref() != Some(got) {
                out.push(Violation::new(
                    check,
                    format!(
                        "expected {}, the report has {}",
                        hex::encode(&want.0),
                        hex::encode(got)
                    ),
                ));
            }
        }
    }
}
