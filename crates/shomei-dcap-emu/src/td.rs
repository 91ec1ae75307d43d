//! An emulated trust domain: MRTD, four RTMRs extended like `TDG.MR.RTMR.EXTEND`
//! (RTMR = SHA-384(RTMR ‖ digest)) with every extension recorded in a CCEL-format event log
//! (TCG crypto-agile, SHA-384 only, MR index 1..4 = RTMR0..3), and TD reports 1.0 / 1.5.

use shomei_core::x509::sha384;
use shomei_dcap::quote::{Td10ReportBody, Td15ReportBody, td_attributes};
use zerocopy::FromZeros;

/// TCG algorithm ID of SHA-384.
pub const TPM_ALG_SHA384: u16 = 0x000C;
/// EV_NO_ACTION (the Spec ID event).
pub const EV_NO_ACTION: u32 = 0x0000_0003;
/// EV_EVENT_TAG.
pub const EV_EVENT_TAG: u32 = 0x0000_0006;

/// One extension of an RTMR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcelEvent {
    /// 0..=3.
    pub rtmr: usize,
    pub event_type: u32,
    pub digest: [u8; 48],
    pub data: Vec<u8>,
}

/// An emulated TD.
#[derive(Debug, Clone)]
pub struct Td {
    pub mr_td: [u8; 48],
    pub rtmr: [[u8; 48]; 4],
    pub mr_config_id: [u8; 48],
    pub mr_owner: [u8; 48],
    pub mr_owner_config: [u8; 48],
    pub td_attributes: u64,
    pub xfam: u64,
    /// TEE_TCB_SVN: \[0\] module ISVSVN, \[1\] module major version, \[2\] late microcode.
    pub tee_tcb_svn: [u8; 16],
    /// TD 1.5: the TCB of the module loaded now (after a TD-preserving update).
    pub tee_tcb_svn2: [u8; 16],
    pub mr_seam: [u8; 48],
    pub mr_signer_seam: [u8; 48],
    pub mr_service_td: [u8; 48],
    events: Vec<CcelEvent>,
}

impl Td {
    /// A TD whose MRTD is SHA-384 of `image` (the emulator does not model TDH.MEM.PAGE.ADD),
    /// with SEPT_VE_DISABLE set, on TDX module 1.x (TEE_TCB_SVN 04 01 02 …).
    pub fn new(image: &[u8]) -> Self {
        let svn = [4, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Self {
            mr_td: sha384(image),
            rtmr: [[0u8; 48]; 4],
            mr_config_id: [0u8; 48],
            mr_owner: [0u8; 48],
            mr_owner_config: [0u8; 48],
            td_attributes: td_attributes::SEPT_VE_DISABLE,
            xfam: 0x0006_1ae7,
            tee_tcb_svn: svn,
            tee_tcb_svn2: svn,
            mr_seam: sha384(b"shomei emulated TDX module"),
            mr_signer_seam: [0u8; 48],
            mr_service_td: [0u8; 48],
            events: Vec::new(),
        }
    }

    /// Extends RTMR `index` (0..=3) with SHA-384(`data`) and records the event. Returns the
    /// digest extended, or `None` for an index out of range.
    pub fn extend(&mut self, index: usize, event_type: u32, data: &[u8]) -> Option<[u8; 48]> {
        let digest = sha384(data);
        self.extend_digest(index, event_type, digest, data)?;
        Some(digest)
    }

    /// Extends RTMR `index` with a given digest (what `TDG.MR.RTMR.EXTEND` takes).
    pub fn extend_digest(
        &mut self,
        index: usize,
        event_type: u32,
        digest: [u8; 48],
        data: &[u8],
    ) -> Option<()> {
        let r = self.rtmr.get_mut(index)?;
        let mut buf = [0u8; 96];
        let (a, b) = buf.split_at_mut(48);
        a.copy_from_slice(r);
        b.copy_from_slice(&digest);
        *r = sha384(&buf);
        self.events.push(CcelEvent {
            rtmr: index,
            event_type,
            digest,
            data: data.to_vec(),
        });
        Some(())
    }

    pub fn events(&self) -> &[CcelEvent] {
        &self.events
    }

    /// The event log in CCEL format: a TCG_PCR_EVENT carrying the Spec ID Event03 (SHA-384
    /// only), then one TCG_PCR_EVENT2 per extension with the CC MR index (RTMR i → i + 1).
    pub fn ccel_log(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // TCG_EfiSpecIDEventStruct.
        let mut spec = Vec::new();
        spec.extend_from_slice(b"Spec ID Event03\0");
        spec.extend_from_slice(&0u32.to_le_bytes()); // platformClass
        spec.extend_from_slice(&[0, 2, 0, 2]); // minor, major, errata, uintnSize (u64)
        spec.extend_from_slice(&1u32.to_le_bytes()); // numberOfAlgorithms
        spec.extend_from_slice(&TPM_ALG_SHA384.to_le_bytes());
        spec.extend_from_slice(&48u16.to_le_bytes());
        spec.push(0); // vendorInfoSize
        out.extend_from_slice(&0u32.to_le_bytes()); // pcrIndex
        out.extend_from_slice(&EV_NO_ACTION.to_le_bytes());
        out.extend_from_slice(&[0u8; 20]);
        out.extend_from_slice(&len32(spec.len()).to_le_bytes());
        out.extend_from_slice(&spec);
        for e in &self.events {
            let mr_index = u32::try_from(e.rtmr).unwrap_or(u32::MAX).saturating_add(1);
            out.extend_from_slice(&mr_index.to_le_bytes());
            out.extend_from_slice(&e.event_type.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&TPM_ALG_SHA384.to_le_bytes());
            out.extend_from_slice(&e.digest);
            out.extend_from_slice(&len32(e.data.len()).to_le_bytes());
            out.extend_from_slice(&e.data);
        }
        out
    }

    /// A TD report 1.0 body with `report_data`.
    pub fn report(&self, report_data: [u8; 64]) -> Td10ReportBody {
        let mut b = Td10ReportBody::new_zeroed();
        b.tee_tcb_svn = self.tee_tcb_svn;
        b.mr_seam = self.mr_seam;
        b.mr_signer_seam = self.mr_signer_seam;
        b.td_attributes.set(self.td_attributes);
        b.xfam.set(self.xfam);
        b.mr_td = self.mr_td;
        b.mr_config_id = self.mr_config_id;
        b.mr_owner = self.mr_owner;
        b.mr_owner_config = self.mr_owner_config;
        b.rtmr = self.rtmr;
        b.report_data = report_data;
        b
    }

    /// A TD report 1.5 body: the 1.0 fields, TEE_TCB_SVN2 and MRSERVICETD.
    pub fn report15(&self, report_data: [u8; 64]) -> Td15ReportBody {
        let mut b = Td15ReportBody::new_zeroed();
        b.base = self.report(report_data);
        b.tee_tcb_svn2 = self.tee_tcb_svn2;
        b.mr_service_td = self.mr_service_td;
        b
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Replays a CCEL log with SHA-384 digests only (as [`Td::ccel_log`] writes it, and as the
/// firmware's CCEL table holds it, padded with 0xFF) into RTMR0–3; EV_NO_ACTION events are
/// skipped. `None` on a malformed log. Independent of [`Td`]'s own bookkeeping, so tests can
/// check one against the other (and against real CCEL logs).
pub fn replay_ccel(log: &[u8]) -> Option<[[u8; 48]; 4]> {
    let mut r = shomei_core::Reader::new(log);
    r.u32_le("pcr").ok()?;
    if r.u32_le("type").ok()? != EV_NO_ACTION {
        return None;
    }
    r.take(20, "digest").ok()?;
    let n = usize::try_from(r.u32_le("size").ok()?).ok()?;
    r.take(n, "spec id").ok()?;
    let mut rtmr = [[0u8; 48]; 4];
    while !r.rest().iter().all(|b| *b == 0xff) && !r.rest().iter().all(|b| *b == 0) {
        let mr = usize::try_from(r.u32_le("mr").ok()?).ok()?;
        let event_type = r.u32_le("type").ok()?;
        if r.u32_le("count").ok()? != 1 || r.u16_le("alg").ok()? != TPM_ALG_SHA384 {
            return None;
        }
        let digest = r.take(48, "digest").ok()?;
        let n = usize::try_from(r.u32_le("size").ok()?).ok()?;
        r.take(n, "event").ok()?;
        if event_type == EV_NO_ACTION {
            continue;
        }
        let slot = rtmr.get_mut(mr.checked_sub(1)?)?;
        let mut buf = slot.to_vec();
        buf.extend_from_slice(digest);
        *slot = sha384(&buf);
    }
    Some(rtmr)
}
