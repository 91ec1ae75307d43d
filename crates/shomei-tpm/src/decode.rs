//! Typed views of event data: EFI variables (Secure Boot state, db/dbx signature lists), boot
//! services images with their device paths, firmware blobs, GRUB commands and kernel command
//! lines, separators, StartupLocality, Spec ID and SP800-155 events. Decoding never fails: what
//! does not decode is reported as `Raw`, so a strange record never stops a replay.

use serde::Serialize;
use shomei_core::Reader;

use crate::eventlog::*;

/// Longest string kept from an event (longer ones are cut, marked with "…").
const MAX_TEXT: usize = 4096;
/// Most device-path nodes decoded.
const MAX_NODES: usize = 64;
/// Most signature lists decoded in one variable.
const MAX_LISTS: usize = 256;

/// A decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoded {
    SpecId,
    StartupLocality {
        locality: u8,
    },
    Sp800155,
    NoAction {
        signature: String,
    },
    Separator {
        value: String,
    },
    Action {
        text: String,
    },
    GrubCommand {
        command: String,
    },
    KernelCmdline {
        cmdline: String,
    },
    Ipl {
        text: String,
    },
    EfiVariable {
        guid: String,
        name: String,
        data_len: usize,
        /// For `SecureBoot`: whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        secure_boot: Option<bool>,
        /// For db/dbx/KEK/PK/MokList…: the signature lists (type and entry count).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        signature_lists: Vec<SignatureList>,
    },
    Image {
        location: u64,
        length: u64,
        device_path: String,
    },
    FirmwareBlob {
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        base: u64,
        length: u64,
    },
    Raw {
        len: usize,
    },
}

/// An EFI_SIGNATURE_LIST summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureList {
    /// `x509`, `sha256` or the type GUID.
    pub signature_type: String,
    pub entries: usize,
}

fn text(b: &[u8]) -> String {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    let cut = b.get(..MAX_TEXT).unwrap_or(b);
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if cut.len() < b.len() {
        s.push('…');
    }
    s
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .take(MAX_TEXT)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// A GUID in its registry form (mixed endian).
pub fn guid(b: &[u8; 16]) -> String {
    let [a0, a1, a2, a3, b0, b1, c0, c1, d @ ..] = *b;
    format!(
        "{:08x}-{:04x}-{:04x}-{}-{}",
        u32::from_le_bytes([a0, a1, a2, a3]),
        u16::from_le_bytes([b0, b1]),
        u16::from_le_bytes([c0, c1]),
        hex::encode(d.get(..2).unwrap_or(&[])),
        hex::encode(d.get(2..).unwrap_or(&[]))
    )
}

fn usize64(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

/// UEFI_VARIABLE_DATA: (GUID, name, VariableData).
pub fn efi_variable(data: &[u8]) -> Option<([u8; 16], String, &[u8])> {
    let mut r = Reader::new(data);
    let g = r.array::<16>("VariableName").ok()?;
    let name_len = usize64(r.u64_le("UnicodeNameLength").ok()?)?;
    let data_len = usize64(r.u64_le("VariableDataLength").ok()?)?;
    let name = r.take(name_len.checked_mul(2)?, "UnicodeName").ok()?;
    let value = r.take(data_len, "VariableData").ok()?;
    Some((g, utf16(name), value))
}

/// The VariableData of a UEFI_VARIABLE_DATA.
pub fn efi_variable_data(data: &[u8]) -> Option<&[u8]> {
    efi_variable(data).map(|(_, _, v)| v)
}

const GUID_X509: &str = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";
const GUID_SHA256: &str = "c1c41626-504c-4092-aca9-41f936934328";

fn signature_lists(mut b: &[u8]) -> Vec<SignatureList> {
    let mut out = Vec::new();
    while !b.is_empty() && out.len() < MAX_LISTS {
        let mut r = Reader::new(b);
        let Ok(t) = r.array::<16>("SignatureType") else {
            break;
        };
        let (Ok(list), Ok(hdr), Ok(size)) = (
            r.u32_le("SignatureListSize"),
            r.u32_le("SignatureHeaderSize"),
            r.u32_le("SignatureSize"),
        ) else {
            break;
        };
        let (Ok(list), Ok(hdr), Ok(size)) = (
            usize::try_from(list),
            usize::try_from(hdr),
            usize::try_from(size),
        ) else {
            break;
        };
        let body = list.saturating_sub(28).saturating_sub(hdr);
        if list < 28 || list > b.len() || size == 0 {
            break;
        }
        let g = guid(&t);
        let signature_type = match g.as_str() {
            GUID_X509 => "x509".to_owned(),
            GUID_SHA256 => "sha256".to_owned(),
            _ => g,
        };
        out.push(SignatureList {
            signature_type,
            entries: body / size,
        });
        b = b.get(list..).unwrap_or(&[]);
    }
    out
}

/// Decodes a device path (UEFI §10) into its text form, e.g.
/// `PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,…)/\EFI\BOOT\BOOTX64.EFI`.
pub fn device_path(mut b: &[u8]) -> String {
    let mut parts = Vec::new();
    while parts.len() < MAX_NODES {
        let mut r = Reader::new(b);
        let (Ok(t), Ok(st), Ok(len)) = (r.u8("Type"), r.u8("SubType"), r.u16_le("Length")) else {
            break;
        };
        let len = usize::from(len);
        if len < 4 || len > b.len() {
            parts.push("<malformed>".to_owned());
            break;
        }
        let body = b.get(4..len).unwrap_or(&[]);
        let node = match (t, st) {
            (0x7f, 0xff) => break,
            (0x7f, _) => "/".to_owned(),
            (0x02, 0x01) if body.len() >= 8 => {
                let uid = body.get(4..8).map_or(0, |u| {
                    u32::from_le_bytes([
                        u.first().copied().unwrap_or(0),
                        u.get(1).copied().unwrap_or(0),
                        u.get(2).copied().unwrap_or(0),
                        u.get(3).copied().unwrap_or(0),
                    ])
                });
                format!("PciRoot({uid:#x})")
            }
            (0x01, 0x01) if body.len() >= 2 => format!(
                "Pci({:#x},{:#x})",
                body.get(1).copied().unwrap_or(0),
                body.first().copied().unwrap_or(0)
            ),
            (0x03, 0x12) if body.len() >= 2 => {
                format!(
                    "Sata({:#x})",
                    u16::from_le_bytes([
                        body.first().copied().unwrap_or(0),
                        body.get(1).copied().unwrap_or(0)
                    ])
                )
            }
            (0x03, 0x17) if body.len() >= 4 => {
                format!("NVMe({:#x})", body.first().copied().unwrap_or(0))
            }
            (0x03, 0x02) => "Scsi".to_owned(),
            (0x03, 0x05) => "USB".to_owned(),
            (0x04, 0x01) if body.len() >= 38 => {
                let mut pr = Reader::new(body);
                let part = pr.u32_le("PartitionNumber").unwrap_or(0);
                let _ = pr.take(16, "start/size");
                let sig = pr.array::<16>("Signature").unwrap_or([0; 16]);
                let _fmt = pr.u8("MBRType");
                let kind = pr.u8("SignatureType").unwrap_or(0);
                if kind == 2 {
                    format!("HD({part},GPT,{})", guid(&sig))
                } else {
                    format!("HD({part},MBR)")
                }
            }
            (0x04, 0x04) => utf16(body),
            (0x04, 0x06) if body.len() >= 16 => {
                let mut g = [0u8; 16];
                g.copy_from_slice(body.get(..16).unwrap_or(&[0; 16]));
                format!("FvFile({})", guid(&g))
            }
            (0x04, 0x07) if body.len() >= 16 => {
                let mut g = [0u8; 16];
                g.copy_from_slice(body.get(..16).unwrap_or(&[0; 16]));
                format!("Fv({})", guid(&g))
            }
            (0x04, 0x08) if body.len() >= 16 => {
                let mut r = Reader::new(body);
                format!(
                    "Offset({:#x},{:#x})",
                    r.u64_le("start").unwrap_or(0),
                    r.u64_le("end").unwrap_or(0)
                )
            }
            _ => format!("Path({t},{st})"),
        };
        parts.push(node);
        b = b.get(len..).unwrap_or(&[]);
    }
    parts.join("/")
}

/// Decodes one record.
pub fn decode(ev: &Event<'_>) -> Decoded {
    let d = ev.data;
    match ev.event_type {
        EV_NO_ACTION => {
            if d.starts_with(b"Spec ID Event") {
                Decoded::SpecId
            } else if let Some(rest) = d.strip_prefix(b"StartupLocality\0") {
                Decoded::StartupLocality {
                    locality: rest.first().copied().unwrap_or(0),
                }
            } else if d.starts_with(b"SP800-155 Event") {
                Decoded::Sp800155
            } else {
                Decoded::NoAction {
                    signature: text(d.get(..16).unwrap_or(d)),
                }
            }
        }
        EV_SEPARATOR => Decoded::Separator {
            value: hex::encode(d.get(..MAX_TEXT).unwrap_or(d)),
        },
        EV_ACTION | EV_EFI_ACTION | EV_S_CRTM_VERSION | EV_POST_CODE | EV_NONHOST_INFO
            if !d.is_empty() =>
        {
            if ev.event_type == EV_S_CRTM_VERSION && d.get(1) == Some(&0) {
                Decoded::Action { text: utf16(d) }
            } else {
                Decoded::Action { text: text(d) }
            }
        }
        EV_IPL => {
            let t = text(d);
            if let Some(c) = t.strip_prefix("grub_cmd: ") {
                Decoded::GrubCommand {
                    command: c.to_owned(),
                }
            } else if let Some(c) = t.strip_prefix("kernel_cmdline: ") {
                Decoded::KernelCmdline {
                    cmdline: c.to_owned(),
                }
            } else if d.get(1) == Some(&0) {
                Decoded::Ipl { text: utf16(d) }
            } else {
                Decoded::Ipl { text: t }
            }
        }
        EV_EFI_VARIABLE_DRIVER_CONFIG
        | EV_EFI_VARIABLE_BOOT
        | EV_EFI_VARIABLE_BOOT2
        | EV_EFI_VARIABLE_AUTHORITY => match efi_variable(d) {
            Some((g, name, value)) => {
                let secure_boot = (name == "SecureBoot").then(|| value.first() == Some(&1));
                let lists = if matches!(
                    name.as_str(),
                    "PK" | "KEK" | "db" | "dbx" | "dbt" | "MokList" | "MokListX" | "MokListTrusted"
                ) && ev.event_type == EV_EFI_VARIABLE_DRIVER_CONFIG
                {
                    signature_lists(value)
                } else {
                    Vec::new()
                };
                Decoded::EfiVariable {
                    guid: guid(&g),
                    name,
                    data_len: value.len(),
                    secure_boot,
                    signature_lists: lists,
                }
            }
            None => Decoded::Raw { len: d.len() },
        },
        EV_EFI_BOOT_SERVICES_APPLICATION
        | EV_EFI_BOOT_SERVICES_DRIVER
        | EV_EFI_RUNTIME_SERVICES_DRIVER => {
            let mut r = Reader::new(d);
            let parsed = (|| {
                let location = r.u64_le("ImageLocationInMemory").ok()?;
                let length = r.u64_le("ImageLengthInMemory").ok()?;
                r.u64_le("ImageLinkTimeAddress").ok()?;
                let n = usize64(r.u64_le("LengthOfDevicePath").ok()?)?;
                let dp = r.take(n, "DevicePath").ok()?;
                Some(Decoded::Image {
                    location,
                    length,
                    device_path: device_path(dp),
                })
            })();
            parsed.unwrap_or(Decoded::Raw { len: d.len() })
        }
        EV_EFI_PLATFORM_FIRMWARE_BLOB => {
            let mut r = Reader::new(d);
            match (r.u64_le("BlobBase"), r.u64_le("BlobLength")) {
                (Ok(base), Ok(length)) if d.len() == 16 => Decoded::FirmwareBlob {
                    description: None,
                    base,
                    length,
                },
                _ => Decoded::Raw { len: d.len() },
            }
        }
        EV_EFI_PLATFORM_FIRMWARE_BLOB2 => {
            let mut r = Reader::new(d);
            let parsed = (|| {
                let n = r.u8("BlobDescriptionSize").ok()?;
                let desc = r.take(usize::from(n), "BlobDescription").ok()?;
                Some(Decoded::FirmwareBlob {
                    description: Some(text(desc)),
                    base: r.u64_le("BlobBase").ok()?,
                    length: r.u64_le("BlobLength").ok()?,
                })
            })();
            parsed.unwrap_or(Decoded::Raw { len: d.len() })
        }
        _ => Decoded::Raw { len: d.len() },
    }
}
