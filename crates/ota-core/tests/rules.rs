//! Every rule of the engine, table-driven where there is a table, with an explicit `now`.

mod common;

use common::*;
use ota_core::{
    AttemptFailure, CampaignOptions, CampaignState, ConnId, DeviceId, DeviceReport, DeviceState,
    Engine, EngineState, Error, FailReason, ImageKind, Record, SkipReason, Target, Timestamp,
};

const MIN: u64 = 60_000;

fn esp_report(
    build: &str,
    board: &str,
    fw_type: Option<&str>,
    template: Option<&str>,
) -> DeviceReport {
    DeviceReport {
        build: Some(build.into()),
        firmware_version: None,
        fw_type: fw_type.map(str::to_owned),
        template: template.map(str::to_owned),
        board: Some(board.into()),
    }
}

/// (image kind, firmware fw-type, device board, device fw-type, device template, force,
/// expected skip)
type GuardCase = (
    ImageKind,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    Option<SkipReason>,
);

#[test]
fn compatibility_guard_table() {
    use SkipReason::*;
    let cases: [GuardCase; 12] = [
        (ImageKind::Esp8266, None, "ESP8266", None, None, false, None),
        (
            ImageKind::Esp8266,
            None,
            "ESP32",
            None,
            None,
            false,
            Some(ChipMismatch),
        ),
        (
            ImageKind::Esp8266Gzip,
            None,
            "ESP32-S3",
            None,
            None,
            false,
            Some(ChipMismatch),
        ),
        (
            ImageKind::Esp32,
            None,
            "NodeMCU",
            None,
            None,
            false,
            Some(ChipMismatch),
        ),
        (ImageKind::Esp32, None, "ESP32", None, None, false, None),
        (ImageKind::Unknown, None, "ESP32", None, None, false, None),
        (ImageKind::Esp32, None, "Arduino", None, None, false, None),
        (
            ImageKind::Esp32,
            Some("TMPL1"),
            "ESP32",
            Some("TMPL2"),
            None,
            false,
            Some(FirmwareTypeMismatch),
        ),
        (
            ImageKind::Esp32,
            Some("TMPL1"),
            "ESP32",
            None,
            Some("TMPL2"),
            false,
            Some(FirmwareTypeMismatch),
        ),
        (
            ImageKind::Esp32,
            Some("TMPL1"),
            "ESP32",
            Some("TMPL1"),
            Some("TMPL9"),
            false,
            None,
        ),
        (
            ImageKind::Esp32,
            Some("TMPL1"),
            "ESP32",
            None,
            None,
            false,
            None,
        ),
        (
            ImageKind::Esp8266,
            Some("TMPL1"),
            "ESP32",
            Some("TMPL2"),
            None,
            true,
            None,
        ),
    ];
    for (i, (kind, fw_type, board, dev_type, tmpl, force, want)) in cases.into_iter().enumerate() {
        let mut e = Engine::new();
        let mut firmware = fw(Some(BUILD));
        firmware.kind = kind;
        firmware.fw_type = fw_type.map(str::to_owned);
        let options = CampaignOptions {
            force,
            ..Default::default()
        };
        let id = e
            .start_campaign(t(0), spec_with(Target::All, firmware, options), &[])
            .unwrap();
        e.device_info(
            t(1),
            C1,
            D,
            OWNER,
            PROJECT,
            &esp_report("old", board, dev_type, tmpl),
        );
        let sent = actions(&mut e);
        let state = e.device_entry(id, D).unwrap().state;
        match want {
            Some(reason) => {
                assert_eq!(state, DeviceState::Skipped(reason), "case {i}");
                assert!(sent.is_empty(), "case {i}");
            }
            None => {
                assert_eq!(state, DeviceState::Sent, "case {i}");
                assert_eq!(sent, vec![send(C1, id, D, 1)], "case {i}");
            }
        }
    }
}

#[test]
fn the_guard_applies_to_token_starts_when_the_device_reported() {
    let mut e = Engine::new();
    e.device_info(
        t(0),
        C1,
        D,
        OWNER,
        PROJECT,
        &esp_report("old", "ESP32", None, None),
    );
    let id = e
        .start_campaign(t(1), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert_eq!(actions(&mut e), vec![]);
    assert_eq!(
        e.device_entry(id, D).unwrap().state,
        DeviceState::Skipped(SkipReason::ChipMismatch)
    );
    assert!(matches!(
        e.campaign(id).unwrap().info.state,
        CampaignState::Finished { .. }
    ));
}

#[test]
fn token_start_for_device_already_on_the_build_is_up_to_date() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some(BUILD));
    let id = e
        .start_campaign(t(1), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert_eq!(actions(&mut e), vec![]);
    assert_eq!(e.device_entry(id, D).unwrap().state, DeviceState::UpToDate);
    assert_eq!(
        e.campaign(id).unwrap().info.state,
        CampaignState::Finished { at: t(1) }
    );
}

#[test]
fn precedence_most_specific_target_wins() {
    let user = || Target::User(OWNER.into());
    let proj = || Target::UserProject {
        email: OWNER.into(),
        project: PROJECT.into(),
    };
    // (targets started in order, index of the campaign expected to send)
    let cases: [(Vec<Target>, usize); 6] = [
        (vec![Target::All, user()], 1),
        (vec![user(), Target::All], 0),
        (vec![Target::All, proj(), user()], 1),
        (vec![proj(), Target::All], 0),
        (vec![Target::All], 0),
        (
            vec![
                user(),
                Target::UserProject {
                    email: OWNER.into(),
                    project: "other".into(),
                },
            ],
            0,
        ),
    ];
    for (targets, want) in cases {
        let mut e = Engine::new();
        let ids: Vec<_> = targets
            .iter()
            .map(|tg| e.start_campaign(t(0), spec(tg.clone()), &[]).unwrap())
            .collect();
        info(&mut e, 10, C1, D, Some("111"));
        assert_eq!(
            actions(&mut e),
            vec![send(C1, ids[want], D, 1)],
            "{targets:?}"
        );
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(
                e.device_entry(*id, D).is_some(),
                i == want,
                "{targets:?} campaign {i}"
            );
        }
    }
}

#[test]
fn token_campaign_beats_deferred_ones_on_info() {
    let mut e = Engine::new();
    let all = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    let tok = e
        .start_campaign(t(1), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert_eq!(actions(&mut e), vec![send(C1, tok, D, 1)]);
    // The device reconnects with its old build: the token campaign decides (failed
    // attempt, backoff), the all-devices campaign does not send.
    info(&mut e, 2, C2, D, Some("111"));
    assert_eq!(actions(&mut e), vec![]);
    assert!(e.device_entry(all, D).is_none());
}

#[test]
fn same_target_supersedes_and_keeps_history() {
    let cases = [
        (Target::All, Target::All),
        (Target::User(OWNER.into()), Target::User(OWNER.into())),
        (
            Target::UserProject {
                email: OWNER.into(),
                project: "P".into(),
            },
            Target::UserProject {
                email: OWNER.into(),
                project: "p".into(),
            },
        ),
        (Target::Token(D), Target::Token(D)),
    ];
    for (first, second) in cases {
        let mut e = Engine::new();
        let a = e.start_campaign(t(0), spec(first.clone()), &[C1]).unwrap();
        if first.is_deferred() {
            e.device_info(t(1), C1, D, OWNER, "P", &report(Some("111")));
        }
        assert_eq!(
            e.device_entry(a, D).unwrap().state,
            DeviceState::Sent,
            "{first:?}"
        );
        drain(&mut e);
        let b = e.start_campaign(t(5), spec(second.clone()), &[C1]).unwrap();
        let (records, _) = drain(&mut e);
        let old = e.campaign(a).unwrap();
        assert_eq!(
            old.info.state,
            CampaignState::Superseded { at: t(5), by: b },
            "{first:?}"
        );
        assert_eq!(old.devices[&D].state, DeviceState::Superseded);
        assert!(
            records
                .iter()
                .any(|r| matches!(r, Record::Campaign(c) if c.id == a))
        );
        assert!(e.campaign(b).unwrap().info.is_active());
        assert_eq!(e.campaigns().count(), 2);
    }
}

#[test]
fn different_targets_do_not_supersede() {
    let mut e = Engine::new();
    let a = e
        .start_campaign(t(0), spec(Target::User(OWNER.into())), &[])
        .unwrap();
    e.start_campaign(t(0), spec(Target::User("x@y".into())), &[])
        .unwrap();
    e.start_campaign(
        t(0),
        spec(Target::UserProject {
            email: OWNER.into(),
            project: "P".into(),
        }),
        &[],
    )
    .unwrap();
    assert!(e.campaign(a).unwrap().info.is_active());
}

#[test]
fn stop_one_stop_all_and_errors() {
    let mut e = Engine::new();
    let a = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    let b = e
        .start_campaign(t(0), spec(Target::User(OWNER.into())), &[])
        .unwrap();
    info(&mut e, 1, C1, D, Some("111"));
    assert_eq!(actions(&mut e), vec![send(C1, b, D, 1)]);

    e.stop(t(2), b, ADMIN).unwrap();
    let stopped = e.campaign(b).unwrap();
    assert_eq!(
        stopped.info.state,
        CampaignState::Stopped {
            at: t(2),
            by: ADMIN.into()
        }
    );
    assert_eq!(stopped.devices[&D].state, DeviceState::Stopped);
    assert_eq!(e.stop(t(3), b, ADMIN), Err(Error::CampaignNotActive(b)));
    assert_eq!(
        e.stop(t(3), ota_core::CampaignId(99), ADMIN),
        Err(Error::UnknownCampaign(ota_core::CampaignId(99)))
    );
    // Progress for a stopped campaign is ignored, nothing recorded.
    drain(&mut e);
    e.download_progress(t(4), b, D, 1, 10, 1000).unwrap();
    assert_eq!(drain(&mut e), (vec![], vec![]));

    // With the user campaign stopped, the all-devices campaign now decides.
    info(&mut e, 5, C2, DeviceId(2), Some("111"));
    assert_eq!(actions(&mut e), vec![send(C2, a, DeviceId(2), 1)]);
    assert_eq!(e.stop_all(t(6), ADMIN), vec![a]);
    assert!(e.stop_all(t(7), ADMIN).is_empty());
    assert_eq!(e.campaigns().count(), 2, "history kept");
    assert!(
        e.poll_timeout().is_none(),
        "no timers for stopped campaigns"
    );
}

#[test]
fn download_progress_moves_through_the_states() {
    let mut e = Engine::new();
    let id = e
        .start_campaign(t(0), spec(Target::Token(D)), &[C1])
        .unwrap();
    drain(&mut e);
    // (now, attempt, bytes, total, expected state)
    let steps = [
        (
            10,
            1,
            100,
            1000,
            DeviceState::Downloading {
                bytes: 100,
                of: 1000,
            },
        ),
        (
            20,
            2,
            500,
            1000,
            DeviceState::Downloading {
                bytes: 100,
                of: 1000,
            },
        ), // stale attempt: ignored
        (
            30,
            1,
            600,
            1000,
            DeviceState::Downloading {
                bytes: 600,
                of: 1000,
            },
        ),
        (40, 1, 1000, 1000, DeviceState::Downloaded),
        (50, 1, 10, 1000, DeviceState::Downloaded), // after the whole image: ignored
    ];
    for (now, attempt, bytes, total, want) in steps {
        e.download_progress(t(now), id, D, attempt, bytes, total)
            .unwrap();
        assert_eq!(e.device_entry(id, D).unwrap().state, want, "at {now}");
    }
    assert_eq!(
        e.download_progress(t(60), id, DeviceId(9), 1, 1, 1),
        Err(Error::UnknownDevice {
            campaign: id,
            device: DeviceId(9)
        })
    );
    // The device reboots and reports the new build: updated, campaign finished.
    info(&mut e, 70, C2, D, Some(BUILD));
    assert_eq!(e.device_entry(id, D).unwrap().state, DeviceState::Updated);
    assert_eq!(
        e.campaign(id).unwrap().info.state,
        CampaignState::Finished { at: t(70) }
    );
}

/// The loop breaker: old build after a full download counts a failed attempt; retries
/// only after a growing backoff; after `max_attempts` → Failed, never sent again.
#[test]
fn loop_breaker_with_backoff() {
    let mut e = Engine::new();
    let id = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    let mut now = 1_000;
    for attempt in 1..=3u8 {
        info(&mut e, now, C1, D, Some("old"));
        // Attempt 1 is sent on the info; later ones by the retry timer.
        let mut sent = actions(&mut e);
        if attempt > 1 {
            assert!(sent.is_empty(), "attempt {attempt}: within backoff");
            let due = e.poll_timeout().unwrap();
            let backoff = [0, MIN, 5 * MIN][usize::from(attempt - 1)];
            assert_eq!(due, t(now + backoff), "attempt {attempt}");
            e.handle_timeout(Timestamp(due.0 - 1));
            assert!(actions(&mut e).is_empty());
            e.handle_timeout(due);
            now = due.0;
            sent = actions(&mut e);
        }
        assert_eq!(sent, vec![send(C1, id, D, attempt)], "attempt {attempt}");
        e.download_progress(t(now + 10), id, D, attempt, 1000, 1000)
            .unwrap();
        e.disconnected(C1);
        now += 20;
    }
    info(&mut e, now, C1, D, Some("old"));
    assert!(actions(&mut e).is_empty());
    let entry = *e.device_entry(id, D).unwrap();
    assert_eq!(
        entry.state,
        DeviceState::Failed(FailReason::AttemptsExhausted(
            AttemptFailure::OldBuildAfterDownload
        ))
    );
    assert_eq!(entry.attempts, 3);
    // Whatever the device does now, nothing more is sent.
    for k in 0..5 {
        info(&mut e, now + k * 3_600_000, C1, D, Some("old"));
        e.handle_timeout(t(now + k * 3_600_000));
    }
    assert!(actions(&mut e).is_empty());
    assert!(e.poll_timeout().is_none());
    // ...but a device that later shows the firmware's build is recognised as updated.
    info(&mut e, now + 99_999_999, C1, D, Some(BUILD));
    assert_eq!(e.device_entry(id, D).unwrap().state, DeviceState::Updated);
}

#[test]
fn stuck_devices_time_out_into_failed_attempts() {
    let o = CampaignOptions::default();
    // (progress before the timeout?, expected failure, timeout)
    let cases = [
        (None, AttemptFailure::NoDownload, o.sent_timeout_ms),
        (Some(500), AttemptFailure::Stalled, o.stall_timeout_ms),
        (
            Some(1000),
            AttemptFailure::NoReportAfterDownload,
            o.install_timeout_ms,
        ),
    ];
    for (bytes, failure, timeout) in cases {
        let mut e = Engine::new();
        let id = e
            .start_campaign(t(0), spec(Target::Token(D)), &[C1])
            .unwrap();
        let mut base = 0;
        if let Some(b) = bytes {
            e.download_progress(t(100), id, D, 1, b, 1000).unwrap();
            base = 100;
        }
        assert_eq!(e.poll_timeout(), Some(t(base + timeout)), "{failure:?}");
        e.handle_timeout(t(base + timeout - 1));
        assert!(e.device_entry(id, D).unwrap().state.in_flight());
        e.handle_timeout(t(base + timeout));
        let entry = *e.device_entry(id, D).unwrap();
        assert_eq!(
            (entry.state, entry.last_failure),
            (DeviceState::Pending, Some(failure))
        );
        // Retry after the first backoff, on the device's connection... which the engine
        // only knows from an info message; so the retry waits for the next login.
        assert_eq!(e.poll_timeout(), Some(t(base + timeout + MIN)));
        e.handle_timeout(t(base + timeout + MIN));
        drain(&mut e);
        assert!(e.poll_timeout().is_none());
        info(&mut e, base + timeout + MIN + 1, C2, D, Some("old"));
        assert_eq!(actions(&mut e), vec![send(C2, id, D, 2)], "{failure:?}");
    }
}

#[test]
fn reconnect_during_download_is_a_failed_attempt() {
    let mut e = Engine::new();
    let id = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    info(&mut e, 0, C1, D, Some("old"));
    e.download_progress(t(5), id, D, 1, 10, 1000).unwrap();
    info(&mut e, 6, C2, D, Some("old"));
    let entry = *e.device_entry(id, D).unwrap();
    assert_eq!(
        (entry.state, entry.last_failure),
        (DeviceState::Pending, Some(AttemptFailure::Reconnected))
    );
}

#[test]
fn firmware_without_build_token_update_is_recognised_by_a_changed_build() {
    for (new_build, want) in [("222", DeviceState::Updated), ("111", DeviceState::Pending)] {
        let mut e = Engine::new();
        info(&mut e, 0, C1, D, Some("111"));
        let id = e
            .start_campaign(
                t(1),
                spec_with(Target::Token(D), fw(None), Default::default()),
                &[C1],
            )
            .unwrap();
        e.download_progress(t(2), id, D, 1, 1000, 1000).unwrap();
        info(&mut e, 3, C2, D, Some(new_build));
        assert_eq!(e.device_entry(id, D).unwrap().state, want, "{new_build}");
    }
}

#[test]
fn records_come_before_actions() {
    let mut e = Engine::new();
    let id = e
        .start_campaign(t(0), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert!(e.poll_action().is_none(), "actions wait for the records");
    let first = e.poll_record().unwrap();
    assert!(matches!(first, Record::Campaign(ref c) if c.id == id));
    let second = e.poll_record().unwrap();
    assert!(
        matches!(second, Record::Device { device: D, entry, .. } if entry.state == DeviceState::Sent && entry.attempts == 1)
    );
    assert!(e.poll_record().is_none());
    assert_eq!(e.poll_action(), Some(send(C1, id, D, 1)));
}

#[test]
fn notify_online_is_rate_limited() {
    let mut e = Engine::new();
    for d in 0..25 {
        e.device_info(
            t(0),
            ConnId(d),
            DeviceId(d),
            OWNER,
            PROJECT,
            &report(Some("old")),
        );
    }
    e.device_info(
        t(0),
        ConnId(100),
        DeviceId(100),
        "other@x",
        PROJECT,
        &report(Some("old")),
    );
    let options = CampaignOptions {
        notify_online: true,
        notify_rate_per_sec: 10,
        ..Default::default()
    };
    let id = e
        .start_campaign(
            t(1_000),
            spec_with(Target::User(OWNER.into()), fw(Some(BUILD)), options),
            &[],
        )
        .unwrap();
    let counts: Vec<usize> = (0..4)
        .map(|k| {
            if k > 0 {
                if k < 3 {
                    assert_eq!(e.poll_timeout(), Some(t(1_000 + k * 1_000)));
                }
                e.handle_timeout(t(1_000 + k * 1_000));
            }
            actions(&mut e).len()
        })
        .collect();
    assert_eq!(counts, vec![10, 10, 5, 0]);
    assert!(
        e.device_entry(id, DeviceId(100)).is_none(),
        "other owner untouched"
    );
    let sent = e
        .campaign(id)
        .unwrap()
        .devices
        .values()
        .filter(|d| d.state == DeviceState::Sent)
        .count();
    assert_eq!(sent, 25);
}

#[test]
fn notify_online_off_by_default_and_for_token() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some("old"));
    e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    assert!(actions(&mut e).is_empty());
    assert!(e.poll_timeout().is_none());
}

#[test]
fn invalid_input_is_refused_without_state_change() {
    let mut e = Engine::new();
    let bad = [
        (
            spec(Target::User(String::new())),
            Error::InvalidTarget("empty e-mail"),
        ),
        (
            spec(Target::UserProject {
                email: OWNER.into(),
                project: String::new(),
            }),
            Error::InvalidTarget("empty project name"),
        ),
        (
            spec_with(
                Target::All,
                fw(Some(BUILD)),
                CampaignOptions {
                    max_attempts: 0,
                    ..Default::default()
                },
            ),
            Error::InvalidOptions("max_attempts must be at least 1"),
        ),
    ];
    for (s, want) in bad {
        assert_eq!(e.start_campaign(t(0), s, &[]).unwrap_err(), want);
    }
    assert_eq!(e.campaigns().count(), 0);
    assert_eq!(drain(&mut e), (vec![], vec![]));
}

/// Restart mid-campaign: from a JSON snapshot and from the record log, the engine
/// continues with the attempt counters it had; nothing is re-sent beyond the budget.
#[test]
fn reload_continues_without_resending_beyond_budget() {
    let options = CampaignOptions {
        max_attempts: 2,
        ..Default::default()
    };
    let mut e = Engine::new();
    let mut log = Vec::new();
    let id = e
        .start_campaign(t(0), spec_with(Target::All, fw(Some(BUILD)), options), &[])
        .unwrap();
    info(&mut e, 1, C1, D, Some("old"));
    info(&mut e, 2, C1, D, Some("old")); // attempt 1 failed (reconnected)
    let (records, sent) = drain(&mut e);
    log.extend(records);
    assert_eq!(sent.len(), 1);

    let json = serde_json::to_string(&e).unwrap();
    let from_json: Engine = serde_json::from_str(&json).unwrap();
    let from_log = Engine::from_records(log.clone()).unwrap();
    assert_eq!(from_json.state(), e.state());
    assert_eq!(from_log.state(), e.state());

    for mut r in [from_json, from_log] {
        // The retry timer survived the restart; the device is not online any more.
        assert_eq!(r.poll_timeout(), Some(t(2 + MIN)));
        r.handle_timeout(t(2 + MIN));
        assert!(actions(&mut r).is_empty());
        info(&mut r, 3 + MIN, C2, D, Some("old"));
        assert_eq!(actions(&mut r), vec![send(C2, id, D, 2)]);
        info(&mut r, 4 + MIN, C2, D, Some("old"));
        for k in 1..10 {
            r.handle_timeout(t(k * 10 * MIN));
            info(&mut r, k * 10 * MIN + 1, C2, D, Some("old"));
        }
        assert!(actions(&mut r).is_empty());
        assert!(matches!(
            r.device_entry(id, D).unwrap().state,
            DeviceState::Failed(_)
        ));
        // New campaigns get new ids after a reload.
        let next = r
            .start_campaign(t(0), spec(Target::User(OWNER.into())), &[])
            .unwrap();
        assert!(next > id);
    }
}

#[test]
fn inconsistent_state_is_refused_on_reload() {
    let mut e = Engine::new();
    e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    let mut state: EngineState = e.state().clone();
    let mut copy = state.campaigns.values().next().unwrap().clone();
    copy.info.id = ota_core::CampaignId(7);
    state.campaigns.insert(copy.info.id, copy);
    assert!(matches!(
        Engine::from_state(state),
        Err(Error::InconsistentState(_))
    ));

    let orphan = Record::Device {
        campaign: ota_core::CampaignId(5),
        device: D,
        entry: ota_core::DeviceEntry::new(t(0)),
    };
    assert!(matches!(
        Engine::from_records([orphan]),
        Err(Error::InconsistentState(_))
    ));
    assert!(serde_json::from_str::<Engine>("{\"next_campaign\":1}").is_err());
}

#[test]
fn two_connections_of_one_device_and_disconnects() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some("old"));
    info(&mut e, 0, C2, D, Some("old"));
    assert_eq!(e.online_devices(), 1);
    e.disconnected(C2);
    assert_eq!(e.online_devices(), 1);
    // The retry path uses the remaining connection.
    let options = CampaignOptions {
        notify_online: true,
        ..Default::default()
    };
    let id = e
        .start_campaign(t(1), spec_with(Target::All, fw(Some(BUILD)), options), &[])
        .unwrap();
    assert_eq!(actions(&mut e), vec![send(C1, id, D, 1)]);
    e.disconnected(C1);
    e.disconnected(C1);
    assert_eq!(e.online_devices(), 0);
}

#[test]
fn device_history_lists_every_campaign_of_a_device() {
    let mut e = Engine::new();
    let a = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    info(&mut e, 1, C1, D, Some("111"));
    let b = e
        .start_campaign(t(2), spec(Target::Token(D)), &[C1])
        .unwrap();
    let history: Vec<_> = e
        .device_history(D)
        .map(|(c, entry)| (c.id, c.spec.initiator.clone(), entry.sent_at))
        .collect();
    assert_eq!(
        history,
        vec![(a, ADMIN.to_owned(), t(1)), (b, ADMIN.to_owned(), t(2))]
    );
    assert_eq!(e.device_history(DeviceId(42)).count(), 0);
    assert_eq!(e.active_ids(), vec![a, b]);
}
