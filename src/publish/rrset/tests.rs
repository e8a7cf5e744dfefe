use super::*;
use std::cell::RefCell;

/// Zones are their names; writes to `failing` are refused.
#[derive(Default)]
struct Fake {
    sets: RefCell<HashMap<(String, String), Vec<String>>>,
    failing: &'static str,
    locks: SetLocks,
    /// This many writes are accepted and then undone, as by another writer's older copy.
    lost_writes: std::cell::Cell<usize>,
    /// This many writes are refused as conditional writes whose set changed meanwhile.
    conflicts: std::cell::Cell<usize>,
}

impl SetApi for Fake {
    type Zone = String;
    type Set = (String, Vec<String>);
    type Undo = ();
    type Sent = ();
    const NAME: &'static str = "fake";
    const PUTTING_BACK: &'static str = "putting back";

    fn zone_id(zone: &String) -> &str {
        zone
    }
    fn locks(&self) -> &SetLocks {
        &self.locks
    }
    fn zone_name(zone: &String) -> &str {
        zone
    }
    fn zone_for(&mut self, name: &str) -> Result<String> {
        Ok(name.split_once('.').map_or(name, |(_, z)| z).to_string())
    }
    fn zone_of(&mut self, published: &Published) -> Result<String> {
        self.zone_for(&published.record.name())
    }
    fn location(_: &String) -> String {
        String::new()
    }
    fn remembered(&self) -> &() {
        &()
    }
    fn read(&self, zone: &String, name: &str, _: &'static str) -> Result<Self::Set> {
        let key = (zone.clone(), name.to_string());
        let values = self.sets.borrow().get(&key).cloned().unwrap_or_default();
        Ok((name.to_string(), values))
    }
    fn write(&self, zone: &String, sets: &[(Self::Set, Self::Set)], _: &str) -> Result<()> {
        if zone == self.failing {
            return Err(Error::unavailable(format!("{zone} refused")));
        }
        if self.conflicts.get() > 0 {
            self.conflicts.set(self.conflicts.get() - 1);
            return Err(Error::unavailable("precondition failed").with_conflict());
        }
        if self.lost_writes.get() > 0 {
            self.lost_writes.set(self.lost_writes.get() - 1);
            return Ok(());
        }
        for ((name, values), _) in sets {
            let key = (zone.clone(), name.clone());
            self.sets.borrow_mut().insert(key, values.clone());
        }
        Ok(())
    }
    fn values(set: &Self::Set) -> Vec<&str> {
        set.1.iter().map(String::as_str).collect()
    }
    fn add(&self, set: &mut Self::Set, content: String) {
        set.1.push(content);
    }
    fn retain_values(set: &mut Self::Set, keep: &mut dyn FnMut(&str) -> bool) {
        set.1.retain(|v| keep(v));
    }
}

fn txt(name: &str, value: &str) -> Record {
    Record::new_dns(name, RecordType::Txt, name, value)
}

#[test]
fn a_failing_zone_puts_the_earlier_ones_back_and_cleanup_keeps_foreign_values() {
    let mut api = Fake {
        failing: "b.test",
        ..Fake::default()
    };
    let key = ("a.test".to_string(), "x.a.test".to_string());
    let foreign = "\"foreign\"".to_string();
    api.sets
        .borrow_mut()
        .insert(key.clone(), vec![foreign.clone()]);
    let records = [txt("x.a.test", "ours"), txt("y.b.test", "ours")];
    let err = present(&mut api, &records).unwrap_err();
    assert!(err.message().contains("b.test refused"), "{err}");
    assert_eq!(
        api.sets.borrow()[&key],
        vec![foreign.clone()],
        "a.test put back"
    );

    api.failing = "";
    let published = present(&mut api, &records).unwrap();
    assert_eq!(api.sets.borrow()[&key].len(), 2);
    cleanup(&mut api, &published).unwrap();
    assert_eq!(api.sets.borrow()[&key], vec![foreign], "only ours removed");
}

#[test]
fn a_write_another_writer_undid_is_made_again_and_one_that_stays_undone_fails_keeping_state() {
    let mut api = Fake::default();
    let key = ("a.test".to_string(), "x.a.test".to_string());
    api.lost_writes.set(1);
    let records = [txt("x.a.test", "ours")];
    let published = present(&mut api, &records).unwrap();
    assert_eq!(api.sets.borrow()[&key], vec!["\"ours\"".to_string()]);
    assert!(
        !published[0].preexisting,
        "our own first write is not 'there before'"
    );

    api.lost_writes.set(1);
    cleanup(&mut api, &published).unwrap();
    assert!(
        api.sets.borrow()[&key].is_empty(),
        "removed on the second write"
    );

    api.lost_writes.set(WRITE_ATTEMPTS);
    let err = present(&mut api, &records).unwrap_err();
    assert!(err.may_have_left_records(), "{err}");
    assert!(err.message().contains("still missing"), "{err}");
}

#[test]
fn a_conditional_write_refused_is_read_again_and_written_again_within_the_attempts() {
    let mut api = Fake::default();
    let key = ("a.test".to_string(), "x.a.test".to_string());
    let records = [txt("x.a.test", "ours")];
    api.conflicts.set(WRITE_ATTEMPTS - 1);
    let published = present(&mut api, &records).unwrap();
    assert_eq!(api.sets.borrow()[&key], vec!["\"ours\"".to_string()]);
    api.conflicts.set(1);
    cleanup(&mut api, &published).unwrap();
    assert!(api.sets.borrow()[&key].is_empty());

    api.conflicts.set(WRITE_ATTEMPTS);
    let err = present(&mut api, &records).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(!err.may_have_left_records(), "nothing was written: {err}");
    assert!(api.sets.borrow()[&key].is_empty());
}
