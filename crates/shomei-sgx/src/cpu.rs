//! The emulated SGX CPU: a per-CPU fused secret and OWNEREPOCH, CPUSVN, a random report KEYID
//! per boot; ECREATE/EADD/EEXTEND/EINIT ([`SgxCpu::launch`]), EREPORT and EGETKEY.
//!
//! Key derivation follows the SDK simulator (`sdk/simulation/tinst/t_instructions.cpp`,
//! `deriv.h`), with two deliberate differences: the base keys come from a per-CPU secret instead
//! of the simulator's constants, and REPORT.KEYID is a random per-boot value instead of the
//! first 16 bytes of the base report key (the simulator's leak). The report key is
//! AES-CMAC(base report key, `dd_report_key_t`) with the SDK's 192-byte layout, so two enclaves
//! on one emulated CPU agree on it and enclaves on different CPUs never do.

use std::sync::Arc;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};
use zeroize::Zeroizing;

use crate::crypto::{Key128, cmac, cmac_verify};
use crate::dh::LocalEnclave;
use crate::error::{EgetkeyError, Error, LaunchError};
use crate::measure::EnclaveImage;
use crate::sigstruct::SigStruct;
use crate::types::{
    Attributes, CpuSvn, KeyName, KeyRequest, Measurement, RawReport, RawReportBody, Report,
    TargetInfo, key_policy,
};

/// What makes one emulated CPU different from another.
#[derive(Clone)]
pub struct CpuConfig {
    /// Stands in for the fused root secrets; every base key is derived from it.
    pub fused_secret: [u8; 16],
    /// The OWNEREPOCH register (set by the platform owner; in seal and report keys).
    pub owner_epoch: [u8; 16],
    /// The current CPUSVN.
    pub cpusvn: CpuSvn,
    /// The KEYID EREPORT writes into every REPORT until the next boot.
    pub report_key_id: [u8; 32],
}

struct CpuState {
    /// Base keys per KEYNAME (0..=4), derived from the fused secret at boot.
    base_keys: Zeroizing<[[u8; 16]; 5]>,
    owner_epoch: [u8; 16],
    cpusvn: CpuSvn,
    report_key_id: [u8; 32],
}

/// An emulated SGX CPU. Cloning gives another handle to the same CPU.
#[derive(Clone)]
pub struct SgxCpu {
    state: Arc<CpuState>,
}

impl core::fmt::Debug for SgxCpu {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SgxCpu")
            .field("cpusvn", &self.state.cpusvn)
            .field("report_key_id", &hex::encode(self.state.report_key_id))
            .finish_non_exhaustive()
    }
}

/// The 192-byte `dd_report_key_t` (natural C alignment; the padding is zero and CMAC'd).
#[derive(FromZeros, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct DdReportKey {
    key_name: U16,         // 0
    pad0: [u8; 6],         // 2
    attributes: [u8; 16],  // 8
    misc_select: U32,      // 24
    owner_epoch: [u8; 16], // 28
    mr_enclave: [u8; 32],  // 44
    cpu_svn: [u8; 16],     // 76
    config_svn: U16,       // 92
    config_id: [u8; 64],   // 94
    key_id: [u8; 32],      // 158
    pad1: [u8; 2],         // 190
}

const _: () = assert!(core::mem::size_of::<DdReportKey>() == 192);

/// Unreachable: every KEYNAME has a base key.
const ZERO_KEY: [u8; 16] = [0; 16];

/// The report-key inputs that EREPORT takes from TARGETINFO and EGETKEY from the caller's SECS.
struct ReportKeyInputs {
    attributes: Attributes,
    misc_select: u32,
    mr_enclave: Measurement,
    config_svn: u16,
    config_id: [u8; 64],
}

impl SgxCpu {
    /// Boots a CPU with a fresh random fused secret, OWNEREPOCH and report KEYID, at the SDK
    /// simulator's default CPUSVN.
    pub fn boot() -> Result<Self, Error> {
        Self::boot_at(CpuSvn::SDK_DEFAULT)
    }

    /// [`SgxCpu::boot`] at a given CPUSVN.
    pub fn boot_at(cpusvn: CpuSvn) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let mut cfg = CpuConfig {
            fused_secret: [0; 16],
            owner_epoch: [0; 16],
            cpusvn,
            report_key_id: [0; 32],
        };
        rng.fill(&mut cfg.fused_secret)
            .and_then(|()| rng.fill(&mut cfg.owner_epoch))
            .and_then(|()| rng.fill(&mut cfg.report_key_id))
            .map_err(|_| Error::Crypto("random generator"))?;
        let cpu = Self::from_config(&cfg);
        cfg.fused_secret.fill(0);
        cpu
    }

    /// A CPU with explicit secrets (reproducible tests).
    pub fn from_config(cfg: &CpuConfig) -> Result<Self, Error> {
        let mut base_keys = Zeroizing::new([[0u8; 16]; 5]);
        for (code, key) in (0u16..).zip(base_keys.iter_mut()) {
            *key = cmac(
                &cfg.fused_secret,
                &[b"shomei-sgx-emu base key", &code.to_le_bytes()],
            )?;
        }
        Ok(Self {
            state: Arc::new(CpuState {
                base_keys,
                owner_epoch: cfg.owner_epoch,
                cpusvn: cfg.cpusvn,
                report_key_id: cfg.report_key_id,
            }),
        })
    }

    pub fn cpusvn(&self) -> CpuSvn {
        self.state.cpusvn
    }

    /// The KEYID of this boot.
    pub fn report_key_id(&self) -> [u8; 32] {
        self.state.report_key_id
    }

    /// The CPU-internal base key for a KEYNAME: AES-CMAC(fused secret, "shomei-sgx-emu base
    /// key" ‖ KEYNAME u16 LE), computed at boot (the real derivation is undisclosed).
    fn base_key(&self, name: KeyName) -> &[u8; 16] {
        let i = usize::from(name.code());
        match self.state.base_keys.get(i) {
            Some(k) => k,
            None => &ZERO_KEY,
        }
    }

    fn report_key(&self, inputs: &ReportKeyInputs, key_id: &[u8; 32]) -> Result<Key128, Error> {
        let mut dd = DdReportKey::new_zeroed();
        dd.key_name = U16::new(KeyName::Report.code());
        dd.attributes = inputs.attributes.to_bytes();
        dd.misc_select = U32::new(inputs.misc_select);
        dd.owner_epoch = self.state.owner_epoch;
        dd.mr_enclave = inputs.mr_enclave.0;
        dd.cpu_svn = self.state.cpusvn.0;
        dd.config_svn = U16::new(inputs.config_svn);
        dd.config_id = inputs.config_id;
        dd.key_id = *key_id;
        let base = self.base_key(KeyName::Report);
        Ok(Key128::new(cmac(base, &[dd.as_bytes()])?))
    }

    /// ECREATE + EADD/EEXTEND + EINIT: measures `image`, checks `sigstruct` as EINIT does, and
    /// returns the running enclave.
    pub fn launch(
        &self,
        image: &EnclaveImage,
        sigstruct: &SigStruct,
        opts: &LaunchOptions,
    ) -> Result<Enclave, Error> {
        // ECREATE
        let a = opts.attributes;
        let reserved = a.flags & !Attributes::REQUESTABLE;
        if reserved != 0 {
            return Err(LaunchError::ReservedAttributes { bits: reserved }.into());
        }
        if a.xfrm & Attributes::XFRM_LEGACY != Attributes::XFRM_LEGACY {
            return Err(LaunchError::Xfrm { xfrm: a.xfrm }.into());
        }
        let kss = a.has(Attributes::KSS);
        if !kss && (opts.config_id != [0; 64] || opts.config_svn != 0) {
            return Err(LaunchError::KssDisabled.into());
        }
        // EADD/EEXTEND
        let mr_enclave = image.mr_enclave();
        // EINIT
        sigstruct.verify()?;
        if sigstruct.enclave_hash() != mr_enclave {
            return Err(LaunchError::EnclaveHash {
                signed: sigstruct.enclave_hash().to_string(),
                measured: mr_enclave.to_string(),
            }
            .into());
        }
        let mask = sigstruct.attribute_mask();
        if a.and(mask) != sigstruct.attributes().and(mask) {
            return Err(LaunchError::Attributes {
                requested: a.flags,
                signed: sigstruct.attributes().flags,
                mask: mask.flags,
            }
            .into());
        }
        let misc_mask = sigstruct.misc_mask();
        if opts.misc_select & misc_mask != sigstruct.misc_select() & misc_mask {
            return Err(LaunchError::MiscSelect {
                requested: opts.misc_select,
                signed: sigstruct.misc_select(),
                mask: misc_mask,
            }
            .into());
        }
        let (isv_family_id, isv_ext_prod_id) = if kss {
            (sigstruct.isv_family_id(), sigstruct.isv_ext_prod_id())
        } else {
            ([0; 16], [0; 16])
        };
        Ok(Enclave {
            cpu: self.clone(),
            secs: Secs {
                mr_enclave,
                mr_signer: sigstruct.mr_signer(),
                attributes: Attributes::new(a.flags | Attributes::INITTED, a.xfrm),
                misc_select: opts.misc_select,
                isv_prod_id: sigstruct.isv_prod_id(),
                isv_svn: sigstruct.isv_svn(),
                config_id: opts.config_id,
                config_svn: opts.config_svn,
                isv_family_id,
                isv_ext_prod_id,
            },
        })
    }
}

/// What the untrusted loader asks ECREATE for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    /// SECS.ATTRIBUTES (INITTED is set by EINIT; it may not be requested).
    pub attributes: Attributes,
    pub misc_select: u32,
    /// CONFIGID (needs ATTRIBUTES.KSS): fixed for the life of this enclave instance.
    pub config_id: [u8; 64],
    /// CONFIGSVN (needs ATTRIBUTES.KSS).
    pub config_svn: u16,
}

impl LaunchOptions {
    /// What the SIGSTRUCT asks for, without KSS configuration.
    pub fn from_sigstruct(sig: &SigStruct) -> Self {
        Self {
            attributes: sig.attributes(),
            misc_select: sig.misc_select(),
            config_id: [0; 64],
            config_svn: 0,
        }
    }

    /// Sets DEBUG (the SIGSTRUCT must allow it).
    pub fn debug(mut self) -> Self {
        self.attributes.flags |= Attributes::DEBUG;
        self
    }

    /// Sets the KSS instance configuration.
    pub fn config(mut self, config_id: [u8; 64], config_svn: u16) -> Self {
        self.config_id = config_id;
        self.config_svn = config_svn;
        self
    }
}

/// The SECS fields EREPORT and EGETKEY read.
#[derive(Debug, Clone)]
struct Secs {
    mr_enclave: Measurement,
    mr_signer: Measurement,
    attributes: Attributes,
    misc_select: u32,
    isv_prod_id: u16,
    isv_svn: u16,
    config_id: [u8; 64],
    config_svn: u16,
    isv_family_id: [u8; 16],
    isv_ext_prod_id: [u8; 16],
}

/// An initialised enclave on an emulated CPU: the only thing that can run EREPORT and EGETKEY.
pub struct Enclave {
    cpu: SgxCpu,
    secs: Secs,
}

impl core::fmt::Debug for Enclave {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Enclave")
            .field("secs", &self.secs)
            .finish_non_exhaustive()
    }
}

impl Enclave {
    pub fn cpu(&self) -> &SgxCpu {
        &self.cpu
    }
    pub fn mr_enclave(&self) -> Measurement {
        self.secs.mr_enclave
    }
    pub fn mr_signer(&self) -> Measurement {
        self.secs.mr_signer
    }
    pub fn attributes(&self) -> Attributes {
        self.secs.attributes
    }
    pub fn misc_select(&self) -> u32 {
        self.secs.misc_select
    }
    pub fn isv_prod_id(&self) -> u16 {
        self.secs.isv_prod_id
    }
    pub fn isv_svn(&self) -> u16 {
        self.secs.isv_svn
    }
    pub fn config_id(&self) -> [u8; 64] {
        self.secs.config_id
    }
    pub fn config_svn(&self) -> u16 {
        self.secs.config_svn
    }
    pub fn isv_family_id(&self) -> [u8; 16] {
        self.secs.isv_family_id
    }
    pub fn isv_ext_prod_id(&self) -> [u8; 16] {
        self.secs.isv_ext_prod_id
    }

    /// EREPORT: a REPORT of this enclave with `report_data`, MACed with the report key of the
    /// enclave `target` names.
    pub fn ereport(&self, target: &TargetInfo, report_data: &[u8; 64]) -> Result<Report, Error> {
        let s = &self.secs;
        let mut body = RawReportBody::new_zeroed();
        body.cpu_svn = self.cpu.state.cpusvn.0;
        body.misc_select = U32::new(s.misc_select);
        body.isv_ext_prod_id = s.isv_ext_prod_id;
        body.attributes_flags = zerocopy::little_endian::U64::new(s.attributes.flags);
        body.attributes_xfrm = zerocopy::little_endian::U64::new(s.attributes.xfrm);
        body.mr_enclave = s.mr_enclave.0;
        body.mr_signer = s.mr_signer.0;
        body.config_id = s.config_id;
        body.isv_prod_id = U16::new(s.isv_prod_id);
        body.isv_svn = U16::new(s.isv_svn);
        body.config_svn = U16::new(s.config_svn);
        body.isv_family_id = s.isv_family_id;
        body.report_data = *report_data;
        let key_id = self.cpu.state.report_key_id;
        let key = self.cpu.report_key(
            &ReportKeyInputs {
                attributes: target.attributes(),
                misc_select: target.misc_select(),
                mr_enclave: target.mr_enclave(),
                config_svn: target.config_svn(),
                config_id: target.config_id(),
            },
            &key_id,
        )?;
        let mac = cmac(key.expose(), &[body.as_bytes()])?;
        Ok(Report::from_raw(RawReport { body, key_id, mac }))
    }

    /// EGETKEY with the SDK simulator's policy rules (and the KSS rules of the SDM).
    pub fn egetkey(&self, kr: &KeyRequest) -> Result<Key128, Error> {
        let s = &self.secs;
        if kr.key_policy & !key_policy::DEFINED != 0 {
            return Err(EgetkeyError::Fault("reserved KEYPOLICY bits are set").into());
        }
        if kr.key_policy & key_policy::KSS_BITS != 0 && !s.attributes.has(Attributes::KSS) {
            return Err(EgetkeyError::Fault("KSS KEYPOLICY bits need ATTRIBUTES.KSS").into());
        }
        let name = KeyName::from_code(kr.key_name)
            .ok_or(EgetkeyError::InvalidKeyName { found: kr.key_name })?;
        if name == KeyName::Report {
            return self.cpu.report_key(
                &ReportKeyInputs {
                    attributes: s.attributes,
                    misc_select: s.misc_select,
                    mr_enclave: s.mr_enclave,
                    config_svn: s.config_svn,
                    config_id: s.config_id,
                },
                &kr.key_id,
            );
        }
        match name {
            KeyName::EinitToken if !s.attributes.has(Attributes::EINITTOKEN_KEY) => {
                return Err(EgetkeyError::InvalidAttribute {
                    needed: "EINITTOKENKEY",
                }
                .into());
            }
            KeyName::Provision | KeyName::ProvisionSeal
                if !s.attributes.has(Attributes::PROVISION_KEY) =>
            {
                return Err(EgetkeyError::InvalidAttribute {
                    needed: "PROVISIONKEY",
                }
                .into());
            }
            _ => {}
        }
        if kr.isv_svn > s.isv_svn {
            return Err(EgetkeyError::InvalidIsvSvn {
                what: "ISVSVN",
                requested: kr.isv_svn,
                current: s.isv_svn,
            }
            .into());
        }
        if kr.config_svn > s.config_svn {
            return Err(EgetkeyError::InvalidIsvSvn {
                what: "CONFIGSVN",
                requested: kr.config_svn,
                current: s.config_svn,
            }
            .into());
        }
        let current = self.cpu.state.cpusvn;
        if !kr.cpu_svn.is_at_most(&current) {
            return Err(EgetkeyError::InvalidCpuSvn {
                requested: kr.cpu_svn.to_string(),
                current: current.to_string(),
            }
            .into());
        }
        self.derive_other(name, kr)
    }

    /// Seal, provisioning and EINITTOKEN keys: the SDM's dependency list serialised in the
    /// emulator's own order (the hardware's derivation data is not disclosed).
    fn derive_other(&self, name: KeyName, kr: &KeyRequest) -> Result<Key128, Error> {
        let s = &self.secs;
        let p = kr.key_policy;
        let has = |bit: u16| p & bit != 0;
        let attr = s.attributes.and(Attributes::new(
            kr.attribute_mask.flags | Attributes::INITTED | Attributes::DEBUG,
            kr.attribute_mask.xfrm,
        ));
        let zero32 = [0u8; 32];
        let zero16 = [0u8; 16];
        let zero64 = [0u8; 64];
        let mr_enclave = if has(key_policy::MRENCLAVE) {
            &s.mr_enclave.0
        } else {
            &zero32
        };
        let mr_signer = if has(key_policy::MRSIGNER) || name != KeyName::Seal {
            &s.mr_signer.0
        } else {
            &zero32
        };
        let isv_prod_id = if has(key_policy::NOISVPRODID) {
            0
        } else {
            s.isv_prod_id
        };
        let (config_id, config_svn) = if has(key_policy::CONFIGID) {
            (&s.config_id, kr.config_svn)
        } else {
            (&zero64, 0)
        };
        let family = if has(key_policy::ISVFAMILYID) {
            &s.isv_family_id
        } else {
            &zero16
        };
        let ext = if has(key_policy::ISVEXTPRODID) {
            &s.isv_ext_prod_id
        } else {
            &zero16
        };
        let owner_epoch = match name {
            KeyName::Provision | KeyName::ProvisionSeal => &zero16,
            _ => &self.cpu.state.owner_epoch,
        };
        let base = self.cpu.base_key(name);
        let key = cmac(
            base,
            &[
                &name.code().to_le_bytes(),
                &p.to_le_bytes(),
                &attr.to_bytes(),
                &kr.attribute_mask.to_bytes(),
                &(s.misc_select & kr.misc_mask).to_le_bytes(),
                &(!kr.misc_mask).to_le_bytes(),
                owner_epoch,
                &kr.cpu_svn.0,
                &kr.isv_svn.to_le_bytes(),
                &isv_prod_id.to_le_bytes(),
                mr_enclave,
                mr_signer,
                &kr.key_id,
                config_id,
                &config_svn.to_le_bytes(),
                family,
                ext,
            ],
        )?;
        Ok(Key128::new(key))
    }

    /// `sgx_verify_report`: EGETKEY(REPORT, report.KEYID), then a constant-time check of the
    /// CMAC over the body. `Ok(false)` when the MAC does not verify.
    pub fn verify_report(&self, report: &Report) -> Result<bool, Error> {
        let key = self.egetkey(&KeyRequest::report_key(report.key_id()))?;
        cmac_verify(key.expose(), &[report.body().as_bytes()], &report.mac())
    }
}

impl LocalEnclave for Enclave {
    fn ereport(&self, target: &TargetInfo, report_data: &[u8; 64]) -> Result<Report, Error> {
        Enclave::ereport(self, target, report_data)
    }

    fn verify_report(&self, report: &Report) -> Result<bool, Error> {
        Enclave::verify_report(self, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn dd_report_key_offsets_match_the_sdk() {
        assert_eq!(offset_of!(DdReportKey, attributes), 8);
        assert_eq!(offset_of!(DdReportKey, misc_select), 24);
        assert_eq!(offset_of!(DdReportKey, owner_epoch), 28);
        assert_eq!(offset_of!(DdReportKey, mr_enclave), 44);
        assert_eq!(offset_of!(DdReportKey, cpu_svn), 76);
        assert_eq!(offset_of!(DdReportKey, config_svn), 92);
        assert_eq!(offset_of!(DdReportKey, config_id), 94);
        assert_eq!(offset_of!(DdReportKey, key_id), 158);
    }
}
