//! The Intel SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1): PPID, the TCB
//! (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type and, for Platform CA
//! certificates, the platform instance and its configuration.
//!
//! Decoded with RustCrypto `der`:
//!
//! ```text
//! SGXExtensions ::= SEQUENCE OF SEQUENCE { sgxExtnId OBJECT IDENTIFIER, sgxExtnValue ANY }
//! ```

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Sequence, Tag, Tagged};
use serde::Serialize;
use shomei_core::x509::{Certificate, X509Error};

use crate::error::Error;

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

pub const OID_SGX_EXTENSIONS: ObjectIdentifier = oid("1.2.840.113741.1.13.1");
pub const OID_PPID: ObjectIdentifier = oid("1.2.840.113741.1.13.1.1");
pub const OID_TCB: ObjectIdentifier = oid("1.2.840.113741.1.13.1.2");
pub const OID_PCESVN: ObjectIdentifier = oid("1.2.840.113741.1.13.1.2.17");
pub const OID_CPUSVN: ObjectIdentifier = oid("1.2.840.113741.1.13.1.2.18");
pub const OID_PCEID: ObjectIdentifier = oid("1.2.840.113741.1.13.1.3");
pub const OID_FMSPC: ObjectIdentifier = oid("1.2.840.113741.1.13.1.4");
pub const OID_SGX_TYPE: ObjectIdentifier = oid("1.2.840.113741.1.13.1.5");
pub const OID_PLATFORM_INSTANCE_ID: ObjectIdentifier = oid("1.2.840.113741.1.13.1.6");
pub const OID_CONFIGURATION: ObjectIdentifier = oid("1.2.840.113741.1.13.1.7");
pub const OID_DYNAMIC_PLATFORM: ObjectIdentifier = oid("1.2.840.113741.1.13.1.7.1");
pub const OID_CACHED_KEYS: ObjectIdentifier = oid("1.2.840.113741.1.13.1.7.2");
pub const OID_SMT_ENABLED: ObjectIdentifier = oid("1.2.840.113741.1.13.1.7.3");

/// One `{ sgxExtnId, sgxExtnValue }` pair.
#[derive(Sequence)]
struct Entry<'a> {
    id: ObjectIdentifier,
    value: AnyRef<'a>,
}

/// The platform configuration (Platform CA certificates only); absent flags are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PckConfiguration {
    pub dynamic_platform: Option<bool>,
    pub cached_keys: Option<bool>,
    pub smt_enabled: Option<bool>,
}

/// The SGX extension of a PCK certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PckExtensions {
    #[serde(serialize_with = "shomei_core::hexfmt::serialize")]
    pub ppid: [u8; 16],
    /// SGX TCB component SVNs 1–16.
    pub tcb_components: [u8; 16],
    pub pce_svn: u16,
    #[serde(serialize_with = "shomei_core::hexfmt::serialize")]
    pub cpu_svn: [u8; 16],
    #[serde(serialize_with = "shomei_core::hexfmt::serialize")]
    pub pce_id: [u8; 2],
    #[serde(serialize_with = "shomei_core::hexfmt::serialize")]
    pub fmspc: [u8; 6],
    /// 0 = Standard, 1 = Scalable, 2 = Scalable with integrity.
    pub sgx_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<PckConfiguration>,
}

fn err(detail: impl Into<String>) -> Error {
    Error::Collateral {
        what: "PCK certificate SGX extension",
        detail: detail.into(),
    }
}

fn der_err(field: &'static str) -> impl FnOnce(der::Error) -> Error {
    move |e| {
        Error::certificate(
            format!("PCK certificate SGX extension {field}"),
            X509Error::Der {
                what: "SGX extension",
                source: e,
            },
        )
    }
}

fn octets<const N: usize>(v: &AnyRef<'_>, field: &'static str) -> Result<[u8; N], Error> {
    let o: OctetStringRef<'_> = v.decode_as().map_err(der_err(field))?;
    <[u8; N]>::try_from(o.as_bytes()).map_err(|_| {
        err(format!(
            "{field} is {} bytes, expected {N}",
            o.as_bytes().len()
        ))
    })
}

fn set_once<T>(slot: &mut Option<T>, v: T, field: &'static str) -> Result<(), Error> {
    if slot.is_some() {
        return Err(err(format!("{field} appears twice")));
    }
    *slot = Some(v);
    Ok(())
}

struct Tcb {
    components: [u8; 16],
    pce_svn: u16,
    cpu_svn: [u8; 16],
}

fn tcb(v: &AnyRef<'_>) -> Result<Tcb, Error> {
    let entries: Vec<Entry<'_>> = v.decode_as().map_err(der_err("TCB"))?;
    let mut comps: [Option<u8>; 16] = [None; 16];
    let (mut pce_svn, mut cpu_svn) = (None, None);
    for e in &entries {
        if e.id == OID_PCESVN {
            set_once(
                &mut pce_svn,
                e.value.decode_as::<u16>().map_err(der_err("PCESVN"))?,
                "PCESVN",
            )?;
        } else if e.id == OID_CPUSVN {
            set_once(&mut cpu_svn, octets::<16>(&e.value, "CPUSVN")?, "CPUSVN")?;
        } else if let Some(i) = component_index(&e.id) {
            let svn = e
                .value
                .decode_as::<u8>()
                .map_err(der_err("TCB component SVN"))?;
            if let Some(slot) = comps.get_mut(i) {
                set_once(slot, svn, "TCB component SVN")?;
            }
        }
    }
    let mut components = [0u8; 16];
    for (i, (out, c)) in components.iter_mut().zip(comps).enumerate() {
        *out = c.ok_or_else(|| err(format!("TCB component {} is missing", i.saturating_add(1))))?;
    }
    Ok(Tcb {
        components,
        pce_svn: pce_svn.ok_or_else(|| err("PCESVN is missing"))?,
        cpu_svn: cpu_svn.ok_or_else(|| err("CPUSVN is missing"))?,
    })
}

/// `1.2.840.113741.1.13.1.2.N` for N in 1..=16 → index N-1 (compared on the encoded arcs: the
/// TCB OID's bytes and one more byte).
fn component_index(id: &ObjectIdentifier) -> Option<usize> {
    let (last, prefix) = id.as_bytes().split_last()?;
    if prefix != OID_TCB.as_bytes() {
        return None;
    }
    match last {
        1..=16 => usize::from(*last).checked_sub(1),
        _ => None,
    }
}

fn configuration(v: &AnyRef<'_>) -> Result<PckConfiguration, Error> {
    let entries: Vec<Entry<'_>> = v.decode_as().map_err(der_err("Configuration"))?;
    let mut c = PckConfiguration::default();
    for e in &entries {
        let slot = match e.id {
            OID_DYNAMIC_PLATFORM => &mut c.dynamic_platform,
            OID_CACHED_KEYS => &mut c.cached_keys,
            OID_SMT_ENABLED => &mut c.smt_enabled,
            _ => continue,
        };
        set_once(
            slot,
            e.value
                .decode_as::<bool>()
                .map_err(der_err("Configuration flag"))?,
            "Configuration flag",
        )?;
    }
    Ok(c)
}

impl PckExtensions {
    /// Decodes the SGX extension of `cert`.
    pub fn from_certificate(cert: &Certificate) -> Result<Self, Error> {
        let ext = cert
            .extension(&OID_SGX_EXTENSIONS)
            .ok_or_else(|| err("the PCK certificate has no SGX extension"))?;
        Self::from_der(ext)
    }

    /// Decodes the extension value (`SGXExtensions`).
    pub fn from_der(ext: &[u8]) -> Result<Self, Error> {
        let entries = Vec::<Entry<'_>>::from_der(ext).map_err(der_err("SGXExtensions"))?;
        let (mut ppid, mut tcb_v, mut pce_id, mut fmspc, mut sgx_type) =
            (None, None, None, None, None);
        let (mut instance, mut config) = (None, None);
        for e in &entries {
            match e.id {
                OID_PPID => set_once(&mut ppid, octets::<16>(&e.value, "PPID")?, "PPID")?,
                OID_TCB => set_once(&mut tcb_v, tcb(&e.value)?, "TCB")?,
                OID_PCEID => set_once(&mut pce_id, octets::<2>(&e.value, "PCE-ID")?, "PCE-ID")?,
                OID_FMSPC => set_once(&mut fmspc, octets::<6>(&e.value, "FMSPC")?, "FMSPC")?,
                OID_SGX_TYPE => {
                    if e.value.tag() != Tag::Enumerated {
                        return Err(err("SGX Type is not an ENUMERATED"));
                    }
                    let t = match e.value.value() {
                        [t] => *t,
                        other => return Err(err(format!("SGX Type has {} bytes", other.len()))),
                    };
                    set_once(&mut sgx_type, t, "SGX Type")?;
                }
                OID_PLATFORM_INSTANCE_ID => set_once(
                    &mut instance,
                    hex::encode(octets::<16>(&e.value, "PlatformInstanceID")?),
                    "PlatformInstanceID",
                )?,
                OID_CONFIGURATION => {
                    set_once(&mut config, configuration(&e.value)?, "Configuration")?
                }
                _ => {}
            }
        }
        let t = tcb_v.ok_or_else(|| err("TCB is missing"))?;
        Ok(Self {
            ppid: ppid.ok_or_else(|| err("PPID is missing"))?,
            tcb_components: t.components,
            pce_svn: t.pce_svn,
            cpu_svn: t.cpu_svn,
            pce_id: pce_id.ok_or_else(|| err("PCE-ID is missing"))?,
            fmspc: fmspc.ok_or_else(|| err("FMSPC is missing"))?,
            sgx_type: sgx_type.ok_or_else(|| err("SGX Type is missing"))?,
            platform_instance_id: instance,
            configuration: config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_oids_map_to_indices() {
        assert_eq!(component_index(&oid("1.2.840.113741.1.13.1.2.1")), Some(0));
        assert_eq!(
            component_index(&oid("1.2.840.113741.1.13.1.2.16")),
            Some(15)
        );
        assert_eq!(component_index(&OID_PCESVN), None);
        assert_eq!(component_index(&OID_CPUSVN), None);
        assert_eq!(component_index(&OID_FMSPC), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(PckExtensions::from_der(&[]).is_err());
        assert!(PckExtensions::from_der(&[0x30, 0x00]).is_err());
        assert!(PckExtensions::from_der(&[0x30, 0x80, 0xff]).is_err());
    }
}
