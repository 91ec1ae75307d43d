//! The parts of an OVMF (or SVSM) image the launch digest needs: the GUIDed footer table that
//! ends 32 bytes before the end of the file, and the `ASEV` SEV metadata it points to.
//! GUIDs here are EFI (mixed-endian) byte order.

use shomei_core::{ParseError, Reader};

use super::MeasureError;

pub const FOUR_GB: u64 = 0x1_0000_0000;

/// An EFI GUID string → its mixed-endian bytes (first three fields little-endian).
pub(super) const fn efi_guid(b: [u8; 16]) -> [u8; 16] {
    [
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    ]
}

/// 96b582de-1fb2-45f7-baea-a366c55a082d
pub const FOOTER_GUID: [u8; 16] = efi_guid([
    0x96, 0xb5, 0x82, 0xde, 0x1f, 0xb2, 0x45, 0xf7, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d,
]);
/// 7255371f-3a3b-4b04-927b-1da6efa8d454
pub const SEV_HASH_TABLE_RV_GUID: [u8; 16] = efi_guid([
    0x72, 0x55, 0x37, 0x1f, 0x3a, 0x3b, 0x4b, 0x04, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54,
]);
/// 00f771de-1a7e-4fcb-890e-68c77e2fb44e
pub const SEV_ES_RESET_BLOCK_GUID: [u8; 16] = efi_guid([
    0x00, 0xf7, 0x71, 0xde, 0x1a, 0x7e, 0x4f, 0xcb, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e,
]);
/// dc886566-984a-4798-a75e-5585a7bf67cc
pub const SEV_METADATA_GUID: [u8; 16] = efi_guid([
    0xdc, 0x88, 0x65, 0x66, 0x98, 0x4a, 0x47, 0x98, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc,
]);
/// a789a612-0597-4c4b-a49f-cbb1fe9d1ddd
pub const SVSM_INFO_GUID: [u8; 16] = efi_guid([
    0xa7, 0x89, 0xa6, 0x12, 0x05, 0x97, 0x4c, 0x4b, 0xa4, 0x9f, 0xcb, 0xb1, 0xfe, 0x9d, 0x1d, 0xdd,
]);

/// SEV metadata section types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionType {
    SnpSecMem,
    SnpSecrets,
    Cpuid,
    SvsmCaa,
    SnpKernelHashes,
}

/// One `{u32 gpa, u32 size, u32 type}` metadata item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub gpa: u32,
    pub size: u32,
    pub section_type: u32,
}

impl Section {
    pub fn kind(&self) -> Result<SectionType, MeasureError> {
        match self.section_type {
            1 => Ok(SectionType::SnpSecMem),
            2 => Ok(SectionType::SnpSecrets),
            3 => Ok(SectionType::Cpuid),
            4 => Ok(SectionType::SvsmCaa),
            0x10 => Ok(SectionType::SnpKernelHashes),
            other => Err(MeasureError::Firmware(format!(
                "unknown OVMF metadata section type {other:#x}"
            ))),
        }
    }
}

/// A parsed firmware image, placed so that it ends at `end_at`.
#[derive(Debug, Clone)]
pub struct Ovmf<'a> {
    data: &'a [u8],
    gpa: u64,
    /// Footer entries; for a repeated GUID the one nearest the start of the table wins.
    table: Vec<([u8; 16], &'a [u8])>,
    sections: Vec<Section>,
}

fn fw(e: ParseError) -> MeasureError {
    MeasureError::Firmware(format!("firmware image: {e}"))
}

fn u32_at(data: &[u8], what: &str) -> Result<u32, MeasureError> {
    data.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| MeasureError::Firmware(format!("{what}: entry shorter than 4 bytes")))
}

impl<'a> Ovmf<'a> {
    pub fn parse(data: &'a [u8], end_at: u64) -> Result<Self, MeasureError> {
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if len % 4096 != 0 {
            return Err(MeasureError::Firmware(format!(
                "firmware image is {len} bytes, not a whole number of 4 KiB pages"
            )));
        }
        let gpa = end_at.checked_sub(len).ok_or_else(|| {
            MeasureError::Firmware("firmware image does not fit below its end address".into())
        })?;
        let mut o = Self {
            data,
            gpa,
            table: Vec::new(),
            sections: Vec::new(),
        };
        o.parse_footer_table()?;
        o.parse_metadata()?;
        Ok(o)
    }

    fn parse_footer_table(&mut self) -> Result<(), MeasureError> {
        const ENTRY_HDR: usize = 18; // u16 size + GUID
        let data = self.data;
        let Some(footer_at) = data.len().checked_sub(32 + ENTRY_HDR) else {
            return Ok(());
        };
        let mut r = Reader::new(data);
        r.take(footer_at, "image").map_err(fw)?;
        let size = usize::from(r.u16_le("footer table size").map_err(fw)?);
        let guid: [u8; 16] = r.array("footer table GUID").map_err(fw)?;
        if guid != FOOTER_GUID {
            return Ok(()); // no table: sev-snp-measure treats this as an empty table
        }
        let Some(table_size) = size.checked_sub(ENTRY_HDR) else {
            return Ok(());
        };
        let start = footer_at.checked_sub(table_size).ok_or_else(|| {
            MeasureError::Firmware("footer table is larger than the image".into())
        })?;
        let mut table = data.get(start..footer_at).unwrap_or(&[]);
        while table.len() >= ENTRY_HDR {
            let hdr_at = table.len() - ENTRY_HDR;
            let mut h = Reader::new(table.get(hdr_at..).unwrap_or(&[]));
            let esize = usize::from(h.u16_le("footer entry size").map_err(fw)?);
            let eguid: [u8; 16] = h.array("footer entry GUID").map_err(fw)?;
            if esize < ENTRY_HDR {
                return Err(MeasureError::Firmware("Invalid entry size".into()));
            }
            let data_at = table.len().checked_sub(esize).ok_or_else(|| {
                MeasureError::Firmware("footer table entry is larger than the table".into())
            })?;
            let entry = table.get(data_at..hdr_at).unwrap_or(&[]);
            match self.table.iter_mut().find(|(g, _)| *g == eguid) {
                Some(slot) => slot.1 = entry,
                None => self.table.push((eguid, entry)),
            }
            table = table.get(..data_at).unwrap_or(&[]);
        }
        Ok(())
    }

    fn parse_metadata(&mut self) -> Result<(), MeasureError> {
        let Some(entry) = self.table_item(&SEV_METADATA_GUID) else {
            return Ok(());
        };
        let offset_from_end = usize::try_from(u32_at(entry, "SEV metadata")?).unwrap_or(usize::MAX);
        let start = self
            .data
            .len()
            .checked_sub(offset_from_end)
            .ok_or_else(|| {
                MeasureError::Firmware("SEV metadata offset points before the image".into())
            })?;
        let mut r = Reader::new(self.data);
        r.take(start, "image").map_err(fw)?;
        let sig: [u8; 4] = r.array("SEV metadata signature").map_err(fw)?;
        let size =
            usize::try_from(r.u32_le("SEV metadata size").map_err(fw)?).unwrap_or(usize::MAX);
        let version = r.u32_le("SEV metadata version").map_err(fw)?;
        let num_items = r.u32_le("SEV metadata item count").map_err(fw)?;
        if &sig != b"ASEV" {
            return Err(MeasureError::Firmware(
                "Wrong SEV metadata signature".into(),
            ));
        }
        if version != 1 {
            return Err(MeasureError::Firmware("Wrong SEV metadata version".into()));
        }
        let items_len = size.checked_sub(16).ok_or_else(|| {
            MeasureError::Firmware("SEV metadata size is smaller than its header".into())
        })?;
        let mut items = r.sub(items_len, "SEV metadata items").map_err(fw)?;
        for _ in 0..num_items {
            self.sections.push(Section {
                gpa: items.u32_le("SEV metadata item gpa").map_err(fw)?,
                size: items.u32_le("SEV metadata item size").map_err(fw)?,
                section_type: items.u32_le("SEV metadata item type").map_err(fw)?,
            });
        }
        Ok(())
    }

    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    pub fn gpa(&self) -> u64 {
        self.gpa
    }

    pub fn table_item(&self, guid: &[u8; 16]) -> Option<&'a [u8]> {
        self.table.iter().find(|(g, _)| g == guid).map(|(_, d)| *d)
    }

    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    pub fn has_section(&self, t: SectionType) -> bool {
        self.sections.iter().any(|s| s.kind().ok() == Some(t))
    }

    pub fn sev_hashes_table_gpa(&self) -> Result<u64, MeasureError> {
        let e = self.table_item(&SEV_HASH_TABLE_RV_GUID).ok_or_else(|| {
            MeasureError::Firmware("Can't find SEV_HASH_TABLE_RV_GUID entry in OVMF table".into())
        })?;
        Ok(u64::from(u32_at(e, "SEV hash table")?))
    }

    pub fn is_sev_hashes_table_supported(&self) -> bool {
        self.sev_hashes_table_gpa().is_ok_and(|g| g != 0)
    }

    /// The APs' entry point from the SEV-ES reset block.
    pub fn sev_es_reset_eip(&self) -> Result<u32, MeasureError> {
        let e = self.table_item(&SEV_ES_RESET_BLOCK_GUID).ok_or_else(|| {
            MeasureError::Firmware("Can't find SEV_ES_RESET_BLOCK_GUID entry in OVMF table".into())
        })?;
        u32_at(e, "SEV-ES reset block")
    }

    /// An SVSM image's entry point: its SVSM_INFO offset plus the image's GPA.
    pub fn svsm_reset_eip(&self) -> Result<u64, MeasureError> {
        let e = self.table_item(&SVSM_INFO_GUID).ok_or_else(|| {
            MeasureError::Firmware("Can't find SVSM_INFO_GUID entry in SVSM table".into())
        })?;
        Ok(u64::from(u32_at(e, "SVSM info")?).wrapping_add(self.gpa))
    }
}
