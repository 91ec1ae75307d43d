//! TCG PC Client event logs (little-endian): the legacy SHA-1 format (TCG_PCR_EVENT) and the
//! crypto-agile one (a TCG_PCR_EVENT header with "Spec ID Event03", then TCG_PCR_EVENT2 records),
//! also used by TDX CCEL. Parsing is zero-copy and lossless (every record keeps its bytes and
//! offset); replay applies StartupLocality, H-CRTM and the DRTM initial values; digests that do
//! not match their event data are warnings.

use std::collections::BTreeMap;

use shomei_core::{ParseError, ParseErrorKind, Reader};

use crate::alg::HashAlg;

pub const EV_PREBOOT_CERT: u32 = 0x0;
pub const EV_POST_CODE: u32 = 0x1;
pub const EV_NO_ACTION: u32 = 0x3;
pub const EV_SEPARATOR: u32 = 0x4;
pub const EV_ACTION: u32 = 0x5;
pub const EV_EVENT_TAG: u32 = 0x6;
pub const EV_S_CRTM_CONTENTS: u32 = 0x7;
pub const EV_S_CRTM_VERSION: u32 = 0x8;
pub const EV_CPU_MICROCODE: u32 = 0x9;
pub const EV_PLATFORM_CONFIG_FLAGS: u32 = 0xA;
pub const EV_TABLE_OF_DEVICES: u32 = 0xB;
pub const EV_COMPACT_HASH: u32 = 0xC;
pub const EV_IPL: u32 = 0xD;
pub const EV_IPL_PARTITION_DATA: u32 = 0xE;
pub const EV_NONHOST_CODE: u32 = 0xF;
pub const EV_NONHOST_CONFIG: u32 = 0x10;
pub const EV_NONHOST_INFO: u32 = 0x11;
pub const EV_OMIT_BOOT_DEVICE_EVENTS: u32 = 0x12;
pub const EV_EFI_EVENT_BASE: u32 = 0x8000_0000;
pub const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
pub const EV_EFI_VARIABLE_BOOT: u32 = 0x8000_0002;
pub const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
pub const EV_EFI_BOOT_SERVICES_DRIVER: u32 = 0x8000_0004;
pub const EV_EFI_RUNTIME_SERVICES_DRIVER: u32 = 0x8000_0005;
pub const EV_EFI_GPT_EVENT: u32 = 0x8000_0006;
pub const EV_EFI_ACTION: u32 = 0x8000_0007;
pub const EV_EFI_PLATFORM_FIRMWARE_BLOB: u32 = 0x8000_0008;
pub const EV_EFI_HANDOFF_TABLES: u32 = 0x8000_0009;
pub const EV_EFI_PLATFORM_FIRMWARE_BLOB2: u32 = 0x8000_000A;
pub const EV_EFI_HANDOFF_TABLES2: u32 = 0x8000_000B;
pub const EV_EFI_VARIABLE_BOOT2: u32 = 0x8000_000C;
pub const EV_EFI_HCRTM_EVENT: u32 = 0x8000_0010;
pub const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00E0;

/// The name of an event type (`EV_SEPARATOR`, …), or None when unknown.
pub fn event_type_name(t: u32) -> Option<&'static str> {
    Some(match t {
        EV_PREBOOT_CERT => "EV_PREBOOT_CERT",
        EV_POST_CODE => "EV_POST_CODE",
        0x2 => "EV_UNUSED",
        EV_NO_ACTION => "EV_NO_ACTION",
        EV_SEPARATOR => "EV_SEPARATOR",
        EV_ACTION => "EV_ACTION",
        EV_EVENT_TAG => "EV_EVENT_TAG",
        EV_S_CRTM_CONTENTS => "EV_S_CRTM_CONTENTS",
        EV_S_CRTM_VERSION => "EV_S_CRTM_VERSION",
        EV_CPU_MICROCODE => "EV_CPU_MICROCODE",
        EV_PLATFORM_CONFIG_FLAGS => "EV_PLATFORM_CONFIG_FLAGS",
        EV_TABLE_OF_DEVICES => "EV_TABLE_OF_DEVICES",
        EV_COMPACT_HASH => "EV_COMPACT_HASH",
        EV_IPL => "EV_IPL",
        EV_IPL_PARTITION_DATA => "EV_IPL_PARTITION_DATA",
        EV_NONHOST_CODE => "EV_NONHOST_CODE",
        EV_NONHOST_CONFIG => "EV_NONHOST_CONFIG",
        EV_NONHOST_INFO => "EV_NONHOST_INFO",
        EV_OMIT_BOOT_DEVICE_EVENTS => "EV_OMIT_BOOT_DEVICE_EVENTS",
        EV_EFI_VARIABLE_DRIVER_CONFIG => "EV_EFI_VARIABLE_DRIVER_CONFIG",
        EV_EFI_VARIABLE_BOOT => "EV_EFI_VARIABLE_BOOT",
        EV_EFI_BOOT_SERVICES_APPLICATION => "EV_EFI_BOOT_SERVICES_APPLICATION",
        EV_EFI_BOOT_SERVICES_DRIVER => "EV_EFI_BOOT_SERVICES_DRIVER",
        EV_EFI_RUNTIME_SERVICES_DRIVER => "EV_EFI_RUNTIME_SERVICES_DRIVER",
        EV_EFI_GPT_EVENT => "EV_EFI_GPT_EVENT",
        EV_EFI_ACTION => "EV_EFI_ACTION",
        EV_EFI_PLATFORM_FIRMWARE_BLOB => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
        EV_EFI_HANDOFF_TABLES => "EV_EFI_HANDOFF_TABLES",
        EV_EFI_PLATFORM_FIRMWARE_BLOB2 => "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
        EV_EFI_HANDOFF_TABLES2 => "EV_EFI_HANDOFF_TABLES2",
        EV_EFI_VARIABLE_BOOT2 => "EV_EFI_VARIABLE_BOOT2",
        EV_EFI_HCRTM_EVENT => "EV_EFI_HCRTM_EVENT",
        EV_EFI_VARIABLE_AUTHORITY => "EV_EFI_VARIABLE_AUTHORITY",
        0x8000_00E1 => "EV_EFI_SPDM_FIRMWARE_BLOB",
        0x8000_00E2 => "EV_EFI_SPDM_FIRMWARE_CONFIG",
        0x8000_00E3 => "EV_EFI_SPDM_DEVICE_POLICY",
        0x8000_00E4 => "EV_EFI_SPDM_DEVICE_AUTHORITY",
        _ => return None,
    })
}

/// Most algorithms a Spec ID event may list.
const MAX_ALGS: u32 = 16;
/// Highest PCR (or CC MR) index accepted in a record.
const MAX_PCR: u32 = 31;
/// Largest digest accepted from a Spec ID table.
const MAX_DIGEST: u16 = 64;

const SPEC_ID_03: &[u8] = b"Spec ID Event03\0";

/// TCG_EfiSpecIdEvent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpecId {
    pub platform_class: u32,
    pub spec_version: (u8, u8, u8),
    pub uintn_size: u8,
    /// (TPM_ALG_ID, digest size) as listed.
    pub algorithms: Vec<(u16, u16)>,
}

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// TCG_PCR_EVENT records only, SHA-1.
    Sha1Legacy,
    /// Spec ID Event03 header, then TCG_PCR_EVENT2 records.
    CryptoAgile,
}

/// One record, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// Offset of the record in the log.
    pub offset: usize,
    /// PCR index (CC MR index in a CCEL log).
    pub pcr: u32,
    pub event_type: u32,
    /// (TPM_ALG_ID, digest) in record order.
    pub digests: Vec<(u16, &'a [u8])>,
    pub data: &'a [u8],
}

impl Event<'_> {
    /// The digest for `alg`, when the record carries one.
    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|(id, _)| *id == alg.id())
            .map(|(_, d)| *d)
    }
}

/// A parsed log: the header record and every record after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog<'a> {
    pub format: LogFormat,
    pub spec_id: Option<SpecId>,
    /// Every record, the Spec ID header included (for a crypto-agile log).
    pub events: Vec<Event<'a>>,
    /// Bytes of records read.
    pub consumed: usize,
    /// Bytes of 0xFF / 0x00 padding after the last record (a fixed-size CCEL area).
    pub padding: usize,
}

fn invalid(field: &'static str, offset: usize, value: u64) -> ParseError {
    ParseError::new(field, offset, ParseErrorKind::InvalidValue { value })
}

fn u32_len(r: &mut Reader<'_>, field: &'static str) -> Result<usize, ParseError> {
    let at = r.offset();
    let n = r.u32_le(field)?;
    let n = usize::try_from(n).map_err(|_| invalid(field, at, u64::from(n)))?;
    if n > r.remaining() {
        return Err(ParseError::new(
            field,
            at,
            ParseErrorKind::LengthTooLarge {
                length: u64::try_from(n).unwrap_or(u64::MAX),
                max: u64::try_from(r.remaining()).unwrap_or(u64::MAX),
            },
        ));
    }
    Ok(n)
}

fn pcr_index(r: &mut Reader<'_>, field: &'static str) -> Result<u32, ParseError> {
    let at = r.offset();
    let pcr = r.u32_le(field)?;
    if pcr > MAX_PCR {
        return Err(invalid(field, at, u64::from(pcr)));
    }
    Ok(pcr)
}

fn legacy_event<'a>(r: &mut Reader<'a>) -> Result<Event<'a>, ParseError> {
    let offset = r.offset();
    let pcr = pcr_index(r, "TCG_PCR_EVENT.pcrIndex")?;
    let event_type = r.u32_le("TCG_PCR_EVENT.eventType")?;
    let digest = r.take(20, "TCG_PCR_EVENT.digest")?;
    let n = u32_len(r, "TCG_PCR_EVENT.eventDataSize")?;
    let data = r.take(n, "TCG_PCR_EVENT.event")?;
    Ok(Event {
        offset,
        pcr,
        event_type,
        digests: vec![(HashAlg::Sha1.id(), digest)],
        data,
    })
}

fn spec_id(data: &[u8], base: usize) -> Result<SpecId, ParseError> {
    let mut r = Reader::new(data);
    let fix = |mut e: ParseError| {
        e.offset = e.offset.saturating_add(base);
        e
    };
    r.take(16, "TCG_EfiSpecIdEvent.signature").map_err(fix)?;
    let platform_class = r.u32_le("TCG_EfiSpecIdEvent.platformClass").map_err(fix)?;
    let minor = r.u8("TCG_EfiSpecIdEvent.specVersionMinor").map_err(fix)?;
    let major = r.u8("TCG_EfiSpecIdEvent.specVersionMajor").map_err(fix)?;
    let errata = r.u8("TCG_EfiSpecIdEvent.specErrata").map_err(fix)?;
    let uintn_size = r.u8("TCG_EfiSpecIdEvent.uintnSize").map_err(fix)?;
    let at = r.offset().saturating_add(base);
    let count = r
        .u32_le("TCG_EfiSpecIdEvent.numberOfAlgorithms")
        .map_err(fix)?;
    if count == 0 || count > MAX_ALGS {
        return Err(invalid(
            "TCG_EfiSpecIdEvent.numberOfAlgorithms",
            at,
            u64::from(count),
        ));
    }
    let mut algorithms = Vec::new();
    for _ in 0..count {
        let id = r.u16_le("TCG_EfiSpecIdEvent.algorithmId").map_err(fix)?;
        let at = r.offset().saturating_add(base);
        let size = r.u16_le("TCG_EfiSpecIdEvent.digestSize").map_err(fix)?;
        if size == 0 || size > MAX_DIGEST {
            return Err(invalid(
                "TCG_EfiSpecIdEvent.digestSize",
                at,
                u64::from(size),
            ));
        }
        if let Some(h) = HashAlg::from_id(id) {
            if h.len() != usize::from(size) {
                return Err(invalid(
                    "TCG_EfiSpecIdEvent.digestSize",
                    at,
                    u64::from(size),
                ));
            }
        }
        if algorithms.iter().any(|(a, _)| *a == id) {
            return Err(invalid("TCG_EfiSpecIdEvent.algorithmId", at, u64::from(id)));
        }
        algorithms.push((id, size));
    }
    let vlen = r.u8("TCG_EfiSpecIdEvent.vendorInfoSize").map_err(fix)?;
    r.take(usize::from(vlen), "TCG_EfiSpecIdEvent.vendorInfo")
        .map_err(fix)?;
    Ok(SpecId {
        platform_class,
        spec_version: (major, minor, errata),
        uintn_size,
        algorithms,
    })
}

fn agile_event<'a>(r: &mut Reader<'a>, spec: &SpecId) -> Result<Event<'a>, ParseError> {
    let offset = r.offset();
    let pcr = pcr_index(r, "TCG_PCR_EVENT2.pcrIndex")?;
    let event_type = r.u32_le("TCG_PCR_EVENT2.eventType")?;
    let at = r.offset();
    let count = r.u32_le("TPML_DIGEST_VALUES.count")?;
    if usize::try_from(count).map_or(true, |c| c > spec.algorithms.len()) {
        return Err(invalid("TPML_DIGEST_VALUES.count", at, u64::from(count)));
    }
    let mut digests = Vec::new();
    for _ in 0..count {
        let at = r.offset();
        let id = r.u16_le("TPMT_HA.hashAlg")?;
        let size = spec
            .algorithms
            .iter()
            .find(|(a, _)| *a == id)
            .map(|(_, s)| *s)
            .ok_or_else(|| invalid("TPMT_HA.hashAlg", at, u64::from(id)))?;
        let d = r.take(usize::from(size), "TPMT_HA.digest")?;
        digests.push((id, d));
    }
    let n = u32_len(r, "TCG_PCR_EVENT2.eventSize")?;
    let data = r.take(n, "TCG_PCR_EVENT2.event")?;
    Ok(Event {
        offset,
        pcr,
        event_type,
        digests,
        data,
    })
}

/// True when the rest of the log is padding: a record header of all 0xFF, or only zero bytes.
fn at_padding(rest: &[u8]) -> bool {
    rest.get(..8).is_some_and(|h| h.iter().all(|b| *b == 0xFF))
        || (rest.len() >= 8 && rest.iter().all(|b| *b == 0))
}

impl<'a> EventLog<'a> {
    /// Parses a binary event log. An empty input, a first record that is not a well-formed
    /// TCG_PCR_EVENT, or any truncated record is an error naming the field and offset.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.is_empty() {
            return Err(ParseError::new(
                "TCG_PCR_EVENT",
                0,
                ParseErrorKind::Malformed("empty event log"),
            ));
        }
        let mut r = Reader::new(bytes);
        let header = legacy_event(&mut r)?;
        let agile = header.event_type == EV_NO_ACTION && header.data.starts_with(SPEC_ID_03);
        let mut events = Vec::new();
        let (format, spec) = if agile {
            let data_off = header.offset.saturating_add(32);
            (
                LogFormat::CryptoAgile,
                Some(spec_id(header.data, data_off)?),
            )
        } else {
            (LogFormat::Sha1Legacy, None)
        };
        events.push(header);
        let mut padding = 0;
        while !r.is_empty() {
            if at_padding(r.rest()) {
                padding = r.remaining();
                break;
            }
            let ev = match &spec {
                Some(s) => agile_event(&mut r, s)?,
                None => legacy_event(&mut r)?,
            };
            events.push(ev);
        }
        Ok(Self {
            format,
            spec_id: spec,
            consumed: bytes.len().saturating_sub(padding),
            padding,
            events,
        })
    }

    /// The banks this log can be replayed in (the Spec ID's known algorithms; SHA-1 for legacy).
    pub fn banks(&self) -> Vec<HashAlg> {
        match &self.spec_id {
            Some(s) => s
                .algorithms
                .iter()
                .filter_map(|(id, _)| HashAlg::from_id(*id))
                .collect(),
            None => vec![HashAlg::Sha1],
        }
    }

    /// The StartupLocality value, when an EV_NO_ACTION "StartupLocality" event says so.
    pub fn startup_locality(&self) -> Option<u8> {
        self.events.iter().find_map(|e| {
            (e.event_type == EV_NO_ACTION && e.pcr == 0)
                .then(|| e.data.strip_prefix(b"StartupLocality\0"))
                .flatten()
                .and_then(|d| d.first().copied())
        })
    }
}

/// Something odd about the log that does not stop the replay.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The record's digest is not H(event data) (normal for some firmware: only trust content
    /// that re-hashes).
    DigestMismatch {
        event: usize,
        pcr: u32,
        event_type: u32,
        bank: HashAlg,
    },
    /// The record carries no digest for a bank the log declares; that bank was not extended.
    MissingDigest { event: usize, bank: HashAlg },
}

/// Final values after replaying a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// bank → index → value, for every index the log extends.
    pub pcrs: BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>,
    pub warnings: Vec<Warning>,
    pub startup_locality: Option<u8>,
    /// Whether an EV_EFI_HCRTM_EVENT set PCR0's initial value to 4.
    pub hcrtm: bool,
    /// Replayed with the TPM's initial values (DRTM PCRs 17–22 start at 0xFF…); false for CCEL.
    pub tpm_initial_values: bool,
}

impl Replay {
    /// The initial value of `index` in `bank` under this log's rules.
    pub fn initial(&self, bank: HashAlg, index: u32) -> Vec<u8> {
        initial(bank, index, self.tpm_initial_values, self.pcr0_locality())
    }

    fn pcr0_locality(&self) -> u8 {
        match (self.startup_locality, self.hcrtm) {
            (_, true) => 4,
            (Some(l), false) => l,
            (None, false) => 0,
        }
    }

    /// The replayed value, or the initial value for an index the log does not extend.
    pub fn value(&self, bank: HashAlg, index: u32) -> Vec<u8> {
        self.pcrs
            .get(&bank)
            .and_then(|m| m.get(&index))
            .cloned()
            .unwrap_or_else(|| self.initial(bank, index))
    }
}

fn initial(bank: HashAlg, index: u32, tpm: bool, locality: u8) -> Vec<u8> {
    let mut v = vec![0u8; bank.len()];
    if tpm && (17..=22).contains(&index) {
        v.iter_mut().for_each(|b| *b = 0xFF);
    } else if index == 0 {
        if let Some(last) = v.last_mut() {
            *last = locality;
        }
    }
    v
}

const GRUB_PREFIXES: [&[u8]; 3] = [b"grub_cmd: ", b"kernel_cmdline: ", b"grub_kernel_cmdline "];

/// Whether a record's digest should be H(its data): EV_IPL only for GRUB's strings (shim's
/// EV_IPL records in PCR 14 describe variables whose contents are not in the log).
fn data_is_digested(ev: &Event<'_>) -> bool {
    if ev.event_type == EV_IPL {
        return GRUB_PREFIXES.iter().any(|p| ev.data.starts_with(p));
    }
    data_type_is_digested(ev.event_type)
}

/// Event types whose digest should be H(event data).
fn data_type_is_digested(t: u32) -> bool {
    matches!(
        t,
        EV_SEPARATOR
            | EV_ACTION
            | EV_EFI_ACTION
            | EV_S_CRTM_VERSION
            | EV_PLATFORM_CONFIG_FLAGS
            | EV_NONHOST_INFO
            | EV_EFI_VARIABLE_DRIVER_CONFIG
            | EV_EFI_VARIABLE_BOOT
            | EV_EFI_VARIABLE_BOOT2
            | EV_EFI_VARIABLE_AUTHORITY
            | EV_EFI_GPT_EVENT
            | EV_IPL
    )
}

/// The parts of an event's data that firmware is known to hash instead of the whole.
fn digest_matches(bank: HashAlg, ev: &Event<'_>, digest: &[u8]) -> bool {
    if bank.digest(ev.data) == digest {
        return true;
    }
    // GRUB measures strings without their NUL, and its commands without the "grub_cmd: " (or
    // "kernel_cmdline: ") prefix the event carries; EV_EFI_VARIABLE_BOOT is often over
    // VariableData only.
    let text = ev.data.strip_suffix(&[0]).unwrap_or(ev.data);
    if bank.digest(text) == digest {
        return true;
    }
    if ev.event_type == EV_IPL {
        if let Some(rest) = GRUB_PREFIXES.iter().find_map(|p| text.strip_prefix(*p)) {
            return bank.digest(rest) == digest;
        }
    }
    if matches!(ev.event_type, EV_EFI_VARIABLE_BOOT | EV_EFI_VARIABLE_BOOT2) {
        if let Some(v) = crate::decode::efi_variable_data(ev.data) {
            return bank.digest(v) == digest;
        }
    }
    false
}

impl EventLog<'_> {
    /// Replays every record except EV_NO_ACTION into every bank, with the TPM's initial values.
    pub fn replay(&self) -> Replay {
        self.replay_with(true)
    }

    /// Replays with the TPM's initial values (`tpm`) or all-zero ones (CCEL RTMRs).
    pub fn replay_with(&self, tpm: bool) -> Replay {
        let startup_locality = self.startup_locality();
        let hcrtm = self
            .events
            .iter()
            .any(|e| e.event_type == EV_EFI_HCRTM_EVENT && e.pcr == 0);
        let locality = if hcrtm {
            4
        } else {
            startup_locality.unwrap_or(0)
        };
        let banks = self.banks();
        // Every declared bank is present, empty when no record extends it.
        let mut pcrs: BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>> =
            banks.iter().map(|b| (*b, BTreeMap::new())).collect();
        let mut warnings = Vec::new();
        let first = usize::from(self.spec_id.is_some());
        for (n, ev) in self.events.iter().enumerate().skip(first) {
            if ev.event_type == EV_NO_ACTION {
                continue;
            }
            for bank in &banks {
                let Some(d) = ev.digest(*bank) else {
                    warnings.push(Warning::MissingDigest {
                        event: n,
                        bank: *bank,
                    });
                    continue;
                };
                if data_is_digested(ev) && !digest_matches(*bank, ev, d) {
                    warnings.push(Warning::DigestMismatch {
                        event: n,
                        pcr: ev.pcr,
                        event_type: ev.event_type,
                        bank: *bank,
                    });
                }
                let slot = pcrs
                    .entry(*bank)
                    .or_default()
                    .entry(ev.pcr)
                    .or_insert_with(|| initial(*bank, ev.pcr, tpm, locality));
                *slot = bank.extend(slot, d);
            }
        }
        Replay {
            pcrs,
            warnings,
            startup_locality,
            hcrtm,
            tpm_initial_values: tpm,
        }
    }
}
