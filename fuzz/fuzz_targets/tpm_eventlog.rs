//! TCG event logs, CCEL, CEL-TLV and IMA lists on arbitrary bytes. When a log parses: its records tile the
//! input (each record's offset is inside it, ascending), replay and decoding never panic, and a
//! second parse gives the same log.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shomei_tpm::EventLog;

fuzz_target!(|data: &[u8]| {
    let _ = shomei_tpm::ima::parse(data);
    if let Ok(records) = shomei_tpm::cel::parse(data) {
        for (bank, regs) in shomei_tpm::cel::replay(&records) {
            assert!(regs.values().all(|v| v.len() == bank.len()));
        }
    }
    let Ok(log) = EventLog::parse(data) else {
        return;
    };
    assert_eq!(log.consumed + log.padding, data.len());
    let mut last = None;
    for e in &log.events {
        assert!(e.offset < data.len());
        assert!(last.is_none_or(|l| l < e.offset), "records are in order");
        last = Some(e.offset);
        let _ = serde_json::to_string(&shomei_tpm::decode::decode(e)).expect("decoded serializes");
    }
    let r = log.replay();
    for (bank, m) in &r.pcrs {
        for v in m.values() {
            assert_eq!(v.len(), bank.len());
        }
    }
    let _ = shomei_tpm::ccel::replay_ccel(&log);
    assert_eq!(EventLog::parse(data).expect("parses again"), log);
});
