//! Property test: random sequences of logins (old / new / missing builds), download
//! progress, disconnects, campaign starts and stops, time passing and restarts
//! (serialize → reload, or replay of the record log). Invariants:
//! - no device is sent more than `max_attempts` commands (attempts) per campaign;
//! - a device whose latest report carries the campaign's build is never sent it;
//! - every device of a campaign that is no longer active is in a terminal state;
//! - a reload (snapshot or record log) reproduces the persisted state exactly.
#![allow(clippy::expect_used)] // the test harness itself: a failed expect is a failed test

use std::collections::{BTreeMap, BTreeSet};

use ota_core::{
    Action, CampaignId, CampaignOptions, CampaignSpec, ConnId, DeviceId, DeviceReport, Engine,
    FirmwareRef, ImageKind, Record, Target, Timestamp,
};
use proptest::prelude::*;

const DEVICES: u64 = 4;
const BUILDS: [&str; 3] = ["B1", "B2", "B3"];
const SIZE: u64 = 4000;

#[derive(Clone, Debug)]
enum Event {
    /// A device logs in on a new connection and sends its info; build: index into
    /// BUILDS, or 3 = "old", 4 = none.
    Login {
        device: u64,
        build: usize,
    },
    Progress {
        device: u64,
        quarters: u64,
    },
    Disconnect {
        device: u64,
    },
    Start {
        target: u8,
        device: u64,
        build: usize,
        max_attempts: u8,
        notify: bool,
        force: bool,
    },
    Stop {
        pick: usize,
    },
    StopAll,
    Advance {
        ms: u64,
    },
    Restart {
        from_log: bool,
    },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (0..DEVICES, 0..5usize).prop_map(|(device, build)| Event::Login { device, build }),
        3 => (0..DEVICES, 0..5u64).prop_map(|(device, quarters)| Event::Progress { device, quarters }),
        2 => (0..DEVICES).prop_map(|device| Event::Disconnect { device }),
        2 => (0..4u8, 0..DEVICES, 0..3usize, 1..4u8, any::<bool>(), any::<bool>()).prop_map(
            |(target, device, build, max_attempts, notify, force)| Event::Start {
                target, device, build, max_attempts, notify, force
            }
        ),
        1 => (0..8usize).prop_map(|pick| Event::Stop { pick }),
        1 => Just(Event::StopAll),
        3 => prop_oneof![0..2_000u64, 0..3_600_000u64].prop_map(|ms| Event::Advance { ms }),
        1 => any::<bool>().prop_map(|from_log| Event::Restart { from_log }),
    ]
}

fn owner(d: u64) -> &'static str {
    if d % 2 == 0 { "a@x" } else { "b@x" }
}

fn project(d: u64) -> &'static str {
    if (d / 2) % 2 == 0 { "P" } else { "q" }
}

struct World {
    engine: Engine,
    now: u64,
    next_conn: u64,
    conns: BTreeMap<u64, Vec<ConnId>>,
    /// Latest report of each device in the current engine lifetime.
    last_build: BTreeMap<u64, Option<String>>,
    /// Attempt numbers sent per (campaign, device).
    attempts: BTreeMap<(CampaignId, DeviceId), BTreeSet<u8>>,
    /// Latest (campaign, attempt) sent per device.
    latest: BTreeMap<u64, (CampaignId, u8)>,
    log: Vec<Record>,
}

impl World {
    fn drain(&mut self) {
        while let Some(r) = self.engine.poll_record() {
            self.log.push(r);
        }
        while let Some(Action::SendOta {
            conn,
            campaign,
            device,
            attempt,
        }) = self.engine.poll_action()
        {
            let c = self
                .engine
                .campaign(campaign)
                .expect("campaign of an action exists");
            let build = c.info.spec.firmware.build.clone();
            let max = c.info.spec.options.max_attempts;
            assert!(
                attempt >= 1 && attempt <= max,
                "attempt {attempt} > max {max}"
            );
            let sent = self.attempts.entry((campaign, device)).or_default();
            sent.insert(attempt);
            assert!(
                sent.len() <= usize::from(max),
                "{device:?} got {sent:?} in {campaign:?}"
            );
            if let Some(reported) = self.last_build.get(&device.0) {
                assert!(
                    build.is_none() || *reported != build,
                    "{device:?} reports the target build {build:?} and was sent it"
                );
            }
            assert!(
                self.conns.get(&device.0).is_some_and(|c| c.contains(&conn)),
                "command to a connection that is not the device's"
            );
            self.latest.insert(device.0, (campaign, attempt));
        }
    }

    fn check_finished(&self) {
        for c in self.engine.campaigns() {
            if !c.info.is_active() {
                for (d, e) in &c.devices {
                    assert!(
                        e.state.is_terminal(),
                        "{d:?} in ended {:?}: {:?}",
                        c.info.id,
                        e.state
                    );
                }
            }
        }
    }

    fn apply(&mut self, ev: Event) {
        let now = Timestamp(self.now);
        match ev {
            Event::Login { device, build } => {
                self.next_conn += 1;
                let conn = ConnId(self.next_conn);
                self.conns.entry(device).or_default().push(conn);
                let b = match build {
                    0..=2 => Some(BUILDS[build].to_owned()),
                    3 => Some("old".to_owned()),
                    _ => None,
                };
                self.last_build.insert(device, b.clone());
                let report = DeviceReport {
                    build: b,
                    board: Some("ESP8266".into()),
                    ..Default::default()
                };
                self.engine.device_info(
                    now,
                    conn,
                    DeviceId(device),
                    owner(device),
                    project(device),
                    &report,
                );
            }
            Event::Progress { device, quarters } => {
                if let Some(&(campaign, attempt)) = self.latest.get(&device) {
                    let bytes = SIZE * quarters / 4;
                    self.engine
                        .download_progress(now, campaign, DeviceId(device), attempt, bytes, SIZE)
                        .expect("progress for a sent device is accepted");
                }
            }
            Event::Disconnect { device } => {
                if let Some(conn) = self.conns.get_mut(&device).and_then(Vec::pop) {
                    self.engine.disconnected(conn);
                }
            }
            Event::Start {
                target,
                device,
                build,
                max_attempts,
                notify,
                force,
            } => {
                let target = match target {
                    0 => Target::Token(DeviceId(device)),
                    1 => Target::User(owner(device).into()),
                    2 => Target::UserProject {
                        email: owner(device).into(),
                        project: project(device).to_uppercase(),
                    },
                    _ => Target::All,
                };
                let firmware = FirmwareRef {
                    id: "x".into(),
                    build: Some(BUILDS[build].into()),
                    version: None,
                    fw_type: None,
                    kind: ImageKind::Esp8266,
                    size: SIZE,
                    md5: "00".repeat(16),
                    sha256: "00".repeat(32),
                };
                let options = CampaignOptions {
                    force,
                    notify_online: notify,
                    notify_rate_per_sec: 2,
                    max_attempts,
                    backoff_ms: vec![1_000, 60_000],
                    sent_timeout_ms: 30_000,
                    stall_timeout_ms: 10_000,
                    install_timeout_ms: 60_000,
                };
                let conns = self.conns.get(&device).cloned().unwrap_or_default();
                let token = matches!(target, Target::Token(_));
                let spec = CampaignSpec {
                    target,
                    firmware,
                    options,
                    initiator: "admin".into(),
                };
                let result = self.engine.start_campaign(now, spec, &conns);
                assert_eq!(result.is_err(), token && conns.is_empty(), "{result:?}");
            }
            Event::Stop { pick } => {
                let ids: Vec<CampaignId> = self.engine.campaigns().map(|c| c.info.id).collect();
                if let Some(&id) = ids.get(pick) {
                    let active = self.engine.campaign(id).is_some_and(|c| c.info.is_active());
                    assert_eq!(self.engine.stop(now, id, "admin").is_ok(), active);
                }
            }
            Event::StopAll => {
                self.engine.stop_all(now, "admin");
            }
            Event::Advance { ms } => {
                self.now += ms;
                let now = Timestamp(self.now);
                // Wake exactly as a server would: at every deadline up to now.
                while let Some(due) = self.engine.poll_timeout().filter(|&d| d <= now) {
                    self.engine.handle_timeout(due);
                    self.drain();
                }
                self.engine.handle_timeout(now);
            }
            Event::Restart { from_log } => {
                self.drain();
                let json = serde_json::to_string(&self.engine).expect("serialize");
                let from_json: Engine = serde_json::from_str(&json).expect("reload snapshot");
                // The record log goes through JSON too, as a server would store it.
                let stored = serde_json::to_string(&self.log).expect("serialize records");
                let log: Vec<Record> = serde_json::from_str(&stored).expect("reload records");
                assert_eq!(log, self.log);
                let from_records = Engine::from_records(log).expect("replay log");
                assert_eq!(from_json.state(), self.engine.state());
                assert_eq!(from_records.state(), self.engine.state());
                self.engine = if from_log { from_records } else { from_json };
                self.conns.clear();
                self.last_build.clear();
            }
        }
        self.drain();
        self.check_finished();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_random_sequences(events in proptest::collection::vec(event(), 1..80)) {
        let mut w = World {
            engine: Engine::new(),
            now: 1_000,
            next_conn: 0,
            conns: BTreeMap::new(),
            last_build: BTreeMap::new(),
            attempts: BTreeMap::new(),
            latest: BTreeMap::new(),
            log: Vec::new(),
        };
        for ev in events {
            w.apply(ev);
        }
        let replayed = Engine::from_records(w.log.clone()).expect("replay log");
        prop_assert_eq!(replayed.state(), w.engine.state());
    }
}
