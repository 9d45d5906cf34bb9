//! The legacy blynk-server OTA behaviours that concern targeting and deferral
//! (`../shared/docs/legacy-ota-contract.md` section 12), as engine tests.

mod common;

use common::*;
use ota_core::{ConnId, DeviceId, DeviceState, Engine, Error, SkipReason, Target};

/// Legacy 1-3: a token start sends the command now to the device's live connection.
#[test]
fn token_start_sends_immediately() {
    let mut e = Engine::new();
    let id = e
        .start_campaign(t(0), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert_eq!(actions(&mut e), vec![send(C1, id, D, 1)]);
    assert_eq!(e.device_entry(id, D).unwrap().state, DeviceState::Sent);
}

/// Legacy 4: no live hardware connection → error (server answers `No device in session.`).
#[test]
fn token_start_without_connection_fails_and_changes_nothing() {
    let mut e = Engine::new();
    let err = e
        .start_campaign(t(0), spec(Target::Token(D)), &[])
        .unwrap_err();
    assert_eq!(err, Error::DeviceOffline(D));
    assert_eq!(e.campaigns().count(), 0);
    assert_eq!(drain(&mut e), (vec![], vec![]));
}

/// Extra case: a second connection with the same token gets the command too, as one
/// attempt (a duplicated connection id is sent once).
#[test]
fn token_start_reaches_every_live_connection_as_one_attempt() {
    let mut e = Engine::new();
    let id = e
        .start_campaign(t(0), spec(Target::Token(D)), &[C1, C2, C1])
        .unwrap();
    assert_eq!(
        actions(&mut e),
        vec![send(C1, id, D, 1), send(C2, id, D, 1)]
    );
    assert_eq!(e.device_entry(id, D).unwrap().attempts, 1);
}

/// Legacy 7: a device that never sent info still gets a token command (no guard can
/// apply); its later info with another build does not get an immediate second command.
#[test]
fn token_start_for_device_never_reported() {
    let mut e = Engine::new();
    let id = e
        .start_campaign(t(1_000), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert_eq!(actions(&mut e), vec![send(C1, id, D, 1)]);
    info(&mut e, 2_000, C1, D, Some("111"));
    assert_eq!(actions(&mut e), vec![]);
    assert_eq!(e.device_entry(id, D).unwrap().sent_at, t(1_000));
}

/// Legacy 8: a device online with build 111 gets the token command.
#[test]
fn token_start_for_device_online_with_old_build() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some("111"));
    assert_eq!(actions(&mut e), vec![]);
    let id = e
        .start_campaign(t(10), spec(Target::Token(D)), &[C1])
        .unwrap();
    assert_eq!(actions(&mut e), vec![send(C1, id, D, 1)]);
}

/// Legacy 10 (and #730): an all-devices campaign does not touch devices online now.
#[test]
fn all_is_deferred_online_devices_untouched() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some("111"));
    e.start_campaign(t(10), spec(Target::All), &[]).unwrap();
    assert_eq!(actions(&mut e), vec![]);
    assert!(e.poll_timeout().is_none());
}

/// Legacy 11: after an all-devices start, the next info with another build gets the
/// command; a device reporting exactly the firmware's build gets nothing.
#[test]
fn all_sends_on_info_and_never_to_the_target_build() {
    let mut e = Engine::new();
    let id = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    info(&mut e, 5_000, C1, D, Some("123"));
    assert_eq!(actions(&mut e), vec![send(C1, id, D, 1)]);
    let entry = e.device_entry(id, D).unwrap();
    assert_eq!(
        (entry.sent_at, e.campaign(id).unwrap().info.created_at),
        (t(5_000), t(0))
    );

    // The same device comes back with the new build: updated, nothing sent.
    e.disconnected(C1);
    info(&mut e, 9_000, C2, D, Some(BUILD));
    assert_eq!(actions(&mut e), vec![]);
    assert_eq!(e.device_entry(id, D).unwrap().state, DeviceState::Updated);

    // Another device already on the build: up to date, nothing sent.
    info(&mut e, 9_500, ConnId(3), DeviceId(2), Some(BUILD));
    assert_eq!(actions(&mut e), vec![]);
    assert_eq!(
        e.device_entry(id, DeviceId(2)).unwrap().state,
        DeviceState::UpToDate
    );
}

/// Legacy 12: stop prevents sending.
#[test]
fn stop_prevents_sending() {
    let mut e = Engine::new();
    e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    e.stop_all(t(1), ADMIN);
    info(&mut e, 2, C1, D, Some("111"));
    assert_eq!(actions(&mut e), vec![]);
}

/// Legacy 14: a user campaign leaves the online device alone; a new login of a device of
/// that user (second connection, same token) with build 111 gets the command on it.
#[test]
fn user_campaign_is_deferred_then_sends_on_login() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some("111"));
    let id = e
        .start_campaign(t(10), spec(Target::User(OWNER.into())), &[])
        .unwrap();
    assert_eq!(actions(&mut e), vec![]);
    info(&mut e, 20, C2, D, Some("111"));
    assert_eq!(actions(&mut e), vec![send(C2, id, D, 1)]);
}

/// Legacy 13 is the server's (unknown user → 400); the engine's part: another owner's
/// devices are never reached by a user campaign.
#[test]
fn user_campaign_ignores_other_owners() {
    let mut e = Engine::new();
    e.start_campaign(t(0), spec(Target::User("other@mail.ua".into())), &[])
        .unwrap();
    info(&mut e, 1, C1, D, Some("111"));
    assert_eq!(actions(&mut e), vec![]);
}

/// Legacy 15: user + a project the device is not in → nothing, for old and new logins.
#[test]
fn user_project_non_existing_project_sends_nothing() {
    let mut e = Engine::new();
    info(&mut e, 0, C1, D, Some("111"));
    let target = Target::UserProject {
        email: OWNER.into(),
        project: "123".into(),
    };
    e.start_campaign(t(10), spec(target), &[]).unwrap();
    info(&mut e, 20, C2, D, Some("111"));
    assert_eq!(actions(&mut e), vec![]);
}

/// Legacy 16: user + the device's project (matched case-insensitively) → command on login.
#[test]
fn user_project_existing_project_sends_on_login() {
    for project in ["My Dashboard", "my DASHBOARD"] {
        let mut e = Engine::new();
        info(&mut e, 0, C1, D, Some("111"));
        let target = Target::UserProject {
            email: OWNER.into(),
            project: project.into(),
        };
        let id = e.start_campaign(t(10), spec(target), &[]).unwrap();
        assert_eq!(actions(&mut e), vec![], "{project}");
        info(&mut e, 20, C2, D, Some("111"));
        assert_eq!(actions(&mut e), vec![send(C2, id, D, 1)], "{project}");
    }
}

/// Extra case: an image without build information cannot start a deferred campaign
/// (legacy: 500), but can go to one device by token.
#[test]
fn deferred_needs_a_firmware_build() {
    let deferred = [
        Target::All,
        Target::User(OWNER.into()),
        Target::UserProject {
            email: OWNER.into(),
            project: PROJECT.into(),
        },
    ];
    for target in deferred {
        let mut e = Engine::new();
        let s = spec_with(target.clone(), fw(None), Default::default());
        assert_eq!(
            e.start_campaign(t(0), s, &[]).unwrap_err(),
            Error::NoBuildForDeferred,
            "{target:?}"
        );
        let s = spec_with(target.clone(), fw(Some("")), Default::default());
        assert_eq!(
            e.start_campaign(t(0), s, &[]).unwrap_err(),
            Error::NoBuildForDeferred,
            "{target:?}"
        );
    }
    let mut e = Engine::new();
    let id = e.start_campaign(
        t(0),
        spec_with(Target::Token(D), fw(None), Default::default()),
        &[C1],
    );
    assert_eq!(actions(&mut e), vec![send(C1, id.unwrap(), D, 1)]);
}

/// Legacy consequence made visible: a device that reports no build is never updated by
/// a deferred campaign, and is recorded as skipped for that reason.
#[test]
fn device_without_build_is_skipped_by_deferred_campaigns() {
    let mut e = Engine::new();
    let id = e.start_campaign(t(0), spec(Target::All), &[]).unwrap();
    info(&mut e, 1, C1, D, None);
    assert_eq!(actions(&mut e), vec![]);
    assert_eq!(
        e.device_entry(id, D).unwrap().state,
        DeviceState::Skipped(SkipReason::NoBuildReported)
    );
}
