//! The engine: events + `now` in, records and actions out.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::campaign::{Campaign, CampaignInfo, CampaignOptions, CampaignSpec, CampaignState};
use crate::device::{AttemptFailure, DeviceEntry, DeviceState, FailReason, SkipReason};
use crate::error::Error;
use crate::ids::{IdMap, Interner, Sym, build_hash};
use crate::types::{
    CampaignId, ChipFamily, ConnId, DeviceId, DeviceReport, Target, Timestamp, eq_ignore_case,
};

/// Something the server must do, after it has persisted every pending [`Record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Send the OTA command (INTERNAL `ota\0<url>`) on this connection. The server
    /// builds the URL from campaign, device and attempt.
    SendOta {
        /// The connection to write to.
        conn: ConnId,
        /// The campaign whose firmware to offer.
        campaign: CampaignId,
        /// The device the URL is for.
        device: DeviceId,
        /// Attempt number (1-based) for this device in this campaign.
        attempt: u8,
    },
}

/// A state change, to persist before performing any [`Action`]. Replaying every record
/// in order with [`Engine::from_records`] rebuilds the engine's persisted state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// A campaign was created or changed state (the full header, upsert by id).
    Campaign(Box<CampaignInfo>),
    /// A device's entry in a campaign changed (the full entry, upsert by the pair).
    Device {
        /// The campaign.
        campaign: CampaignId,
        /// The device.
        device: DeviceId,
        /// The entry after the change.
        entry: DeviceEntry,
    },
}

/// The persisted part of the engine: plain data, serde-ready.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// Id of the next campaign.
    pub next_campaign: u64,
    /// Every campaign ever started, with its per-device entries.
    pub campaigns: BTreeMap<CampaignId, Campaign>,
}

/// What the engine remembers about a device that is online (runtime only).
#[derive(Clone, Copy, Debug)]
struct Online {
    /// The connection of the latest info message.
    conn: ConnId,
    /// Live connections of this device known to the engine.
    live: u16,
    owner: Sym,
    project: Sym,
    /// `fw-type`, or the template id when the device sent no `fw-type`.
    fw_type: Option<Sym>,
    /// [`build_hash`] of the reported build, 0 if none.
    build: u64,
    chip: ChipFamily,
}

/// What triggered a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// The device sent its info message (it has just logged in).
    Info,
    /// A token campaign was started.
    TokenStart,
    /// The backoff after a failed attempt elapsed.
    Retry,
    /// `notify_online` reached the device.
    Notify,
}

/// The device's side of a decision.
#[derive(Clone, Copy, Debug)]
struct Seen {
    build: u64,
    fw_type: Option<Sym>,
    chip: ChipFamily,
}

/// Where to send a command.
#[derive(Clone, Copy, Debug)]
enum SendTo<'a> {
    One(ConnId),
    Many(&'a [ConnId]),
}

#[derive(Clone, Debug)]
struct NotifyQueue {
    next_at: Timestamp,
    devices: VecDeque<DeviceId>,
}

/// The deterministic OTA engine. See the crate doc for the model and the contract.
#[derive(Debug, Default)]
pub struct Engine {
    state: EngineState,
    strings: Interner,
    online: IdMap<DeviceId, Online>,
    conns: IdMap<ConnId, DeviceId>,
    token_idx: IdMap<DeviceId, CampaignId>,
    user_idx: HashMap<Box<str>, CampaignId>,
    project_idx: HashMap<Box<str>, Vec<CampaignId>>,
    all_idx: Option<CampaignId>,
    timers: BTreeSet<(Timestamp, CampaignId, DeviceId)>,
    notify: BTreeMap<CampaignId, NotifyQueue>,
    records: VecDeque<Record>,
    actions: VecDeque<Action>,
}

impl Engine {
    /// An empty engine.
    #[must_use]
    pub fn new() -> Engine {
        Engine {
            state: EngineState {
                next_campaign: 1,
                campaigns: BTreeMap::new(),
            },
            ..Engine::default()
        }
    }

    /// Rebuilds an engine from persisted state (e.g. a deserialized snapshot). Nothing
    /// is online afterwards; deadlines already past fire at the next
    /// [`handle_timeout`](Engine::handle_timeout).
    pub fn from_state(state: EngineState) -> Result<Engine, Error> {
        let mut engine = Engine {
            state,
            ..Engine::default()
        };
        let max_id = engine
            .state
            .campaigns
            .keys()
            .next_back()
            .map_or(0, |id| id.0);
        engine.state.next_campaign = engine.state.next_campaign.max(max_id.saturating_add(1));
        for id in engine.active_ids() {
            let target = match engine.state.campaigns.get(&id) {
                Some(c) => c.info.spec.target.clone(),
                None => continue,
            };
            if let Some(other) = engine.find_same_target(&target) {
                return Err(Error::InconsistentState(format!(
                    "campaigns {other} and {id} are both active for the same target"
                )));
            }
            engine.index_insert(id, &target);
            if let Some(c) = engine.state.campaigns.get(&id) {
                for (&dev, entry) in &c.devices {
                    if let Some(t) = deadline(entry, &c.info.spec.options) {
                        engine.timers.insert((t, id, dev));
                    }
                }
            }
        }
        Ok(engine)
    }

    /// Rebuilds an engine by replaying records in the order they were produced.
    pub fn from_records<I: IntoIterator<Item = Record>>(records: I) -> Result<Engine, Error> {
        let mut state = EngineState::default();
        for record in records {
            match record {
                Record::Campaign(info) => {
                    let id = info.id;
                    match state.campaigns.get_mut(&id) {
                        Some(c) => c.info = *info,
                        None => {
                            state.campaigns.insert(
                                id,
                                Campaign {
                                    info: *info,
                                    devices: IdMap::default(),
                                },
                            );
                        }
                    }
                }
                Record::Device {
                    campaign,
                    device,
                    entry,
                } => {
                    let c = state.campaigns.get_mut(&campaign).ok_or_else(|| {
                        Error::InconsistentState(format!(
                            "device {device} recorded for unrecorded campaign {campaign}"
                        ))
                    })?;
                    c.devices.insert(device, entry);
                }
            }
        }
        Engine::from_state(state)
    }

    /// The persisted state (serialize this, or the engine itself, to store it).
    #[must_use]
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// One campaign.
    #[must_use]
    pub fn campaign(&self, id: CampaignId) -> Option<&Campaign> {
        self.state.campaigns.get(&id)
    }

    /// All campaigns, oldest first.
    pub fn campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.state.campaigns.values()
    }

    /// A device's entry in a campaign.
    #[must_use]
    pub fn device_entry(&self, campaign: CampaignId, device: DeviceId) -> Option<&DeviceEntry> {
        self.state.campaigns.get(&campaign)?.devices.get(&device)
    }

    /// Every campaign that has an entry for `device`, oldest first, with that entry
    /// (what an admin or app view of "this device's OTA history" shows).
    pub fn device_history(
        &self,
        device: DeviceId,
    ) -> impl Iterator<Item = (&CampaignInfo, &DeviceEntry)> {
        self.state
            .campaigns
            .values()
            .filter_map(move |c| c.devices.get(&device).map(|e| (&c.info, e)))
    }

    /// Ids of the active campaigns, oldest first.
    #[must_use]
    pub fn active_ids(&self) -> Vec<CampaignId> {
        self.state
            .campaigns
            .values()
            .filter(|c| c.info.is_active())
            .map(|c| c.info.id)
            .collect()
    }

    /// Number of devices the engine currently knows online (sent info, not all of
    /// their connections closed).
    #[must_use]
    pub fn online_devices(&self) -> usize {
        self.online.len()
    }

    /// Next record to persist. Drain these (and store them durably) before taking
    /// actions.
    pub fn poll_record(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// Next action to perform. Returns `None` while records are still undrained: the
    /// engine enforces "record durably, then act".
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.records.is_empty() {
            self.actions.pop_front()
        } else {
            None
        }
    }

    /// When the engine next needs [`handle_timeout`](Engine::handle_timeout), if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let timer = self.timers.first().map(|t| t.0);
        let notify = self.notify.values().map(|q| q.next_at).min();
        match (timer, notify) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Starts a campaign. For a token target, `token_conns` are the device's live
    /// connections (the command goes to each of them now, as one attempt); for deferred
    /// targets it is ignored. A campaign for exactly the same target as an active one
    /// supersedes it.
    pub fn start_campaign(
        &mut self,
        now: Timestamp,
        spec: CampaignSpec,
        token_conns: &[ConnId],
    ) -> Result<CampaignId, Error> {
        spec.options.validate()?;
        match &spec.target {
            Target::Token(device) if token_conns.is_empty() => {
                return Err(Error::DeviceOffline(*device));
            }
            Target::User(email) | Target::UserProject { email, .. } if email.is_empty() => {
                return Err(Error::InvalidTarget("empty e-mail"));
            }
            Target::UserProject { project, .. } if project.is_empty() => {
                return Err(Error::InvalidTarget("empty project name"));
            }
            _ => {}
        }
        if spec.target.is_deferred() && spec.firmware.build.as_deref().is_none_or(str::is_empty) {
            return Err(Error::NoBuildForDeferred);
        }
        let id = CampaignId(self.state.next_campaign);
        if self.state.campaigns.contains_key(&id) {
            return Err(Error::InconsistentState(format!(
                "campaign ids exhausted at {id}"
            )));
        }
        self.state.next_campaign = self.state.next_campaign.saturating_add(1);
        if let Some(old) = self.find_same_target(&spec.target) {
            self.end_campaign(now, old, CampaignState::Superseded { at: now, by: id });
        }
        let target = spec.target.clone();
        let notify = spec.options.notify_online && target.is_deferred();
        let info = CampaignInfo {
            id,
            spec,
            created_at: now,
            state: CampaignState::Active,
        };
        self.records
            .push_back(Record::Campaign(Box::new(info.clone())));
        self.state.campaigns.insert(
            id,
            Campaign {
                info,
                devices: IdMap::default(),
            },
        );
        self.index_insert(id, &target);

        if let Target::Token(device) = target {
            let seen = self.seen_of(device);
            self.decide(
                now,
                id,
                device,
                Trigger::TokenStart,
                seen,
                SendTo::Many(token_conns),
            );
        } else if notify {
            let mut devices: Vec<DeviceId> = self
                .online
                .iter()
                .filter(|(_, o)| self.target_matches(&target, o))
                .map(|(&d, _)| d)
                .collect();
            devices.sort_unstable();
            if !devices.is_empty() {
                self.notify.insert(
                    id,
                    NotifyQueue {
                        next_at: now,
                        devices: devices.into(),
                    },
                );
                self.run_notify(now);
            }
        }
        Ok(id)
    }

    /// Stops one active campaign: devices not yet in a terminal state become `Stopped`.
    /// Commands already sent are not recalled; nothing is deleted.
    pub fn stop(&mut self, now: Timestamp, campaign: CampaignId, by: &str) -> Result<(), Error> {
        let c = self
            .state
            .campaigns
            .get(&campaign)
            .ok_or(Error::UnknownCampaign(campaign))?;
        if !c.info.is_active() {
            return Err(Error::CampaignNotActive(campaign));
        }
        self.end_campaign(
            now,
            campaign,
            CampaignState::Stopped {
                at: now,
                by: by.to_owned(),
            },
        );
        Ok(())
    }

    /// Stops every active campaign (legacy `/ota/stop`); returns the stopped ids.
    pub fn stop_all(&mut self, now: Timestamp, by: &str) -> Vec<CampaignId> {
        let active = self.active_ids();
        for &id in &active {
            self.end_campaign(
                now,
                id,
                CampaignState::Stopped {
                    at: now,
                    by: by.to_owned(),
                },
            );
        }
        active
    }

    /// A device sent its info message on `conn` (normally right after login). This is
    /// where deferred campaigns act, updates are confirmed and failed attempts noticed.
    pub fn device_info(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        device: DeviceId,
        owner: &str,
        project: &str,
        report: &DeviceReport,
    ) {
        let build = report.build.as_deref().map_or(0, build_hash);
        let chip = report
            .board
            .as_deref()
            .map_or(ChipFamily::Unknown, ChipFamily::from_board);
        let owner_sym = self.strings.intern(owner);
        let project_sym = self.strings.intern(project);
        let fw_type = report
            .fw_type
            .as_deref()
            .or(report.template.as_deref())
            .map(|s| self.strings.intern(s));
        let previous = self.conns.insert(conn, device);
        if let Some(prev) = previous.filter(|&p| p != device) {
            self.drop_conn(conn, prev);
        }
        let new_conn = previous != Some(device);
        let online = self.online.entry(device).or_insert(Online {
            conn,
            live: 0,
            owner: owner_sym,
            project: project_sym,
            fw_type,
            build,
            chip,
        });
        if new_conn {
            online.live = online.live.saturating_add(1);
        }
        online.conn = conn;
        online.owner = owner_sym;
        online.project = project_sym;
        online.fw_type = fw_type;
        online.build = build;
        online.chip = chip;

        let Some(campaign) = self.winner(device, owner, project) else {
            return;
        };
        let seen = Seen {
            build,
            fw_type,
            chip,
        };
        self.decide(
            now,
            campaign,
            device,
            Trigger::Info,
            seen,
            SendTo::One(conn),
        );
    }

    /// A hardware connection closed. Does not change any campaign state (devices drop
    /// their connection to reboot after a download).
    pub fn disconnected(&mut self, conn: ConnId) {
        if let Some(device) = self.conns.remove(&conn) {
            self.drop_conn(conn, device);
        }
    }

    /// The server served bytes of `device`'s download URL for `attempt` of `campaign`:
    /// `bytes` of `total` delivered so far in this attempt. Progress for an older
    /// attempt, an inactive campaign or a device not waiting for a download is ignored.
    pub fn download_progress(
        &mut self,
        now: Timestamp,
        campaign: CampaignId,
        device: DeviceId,
        attempt: u8,
        bytes: u64,
        total: u64,
    ) -> Result<(), Error> {
        let c = self
            .state
            .campaigns
            .get(&campaign)
            .ok_or(Error::UnknownCampaign(campaign))?;
        let entry = *c
            .devices
            .get(&device)
            .ok_or(Error::UnknownDevice { campaign, device })?;
        if !c.info.is_active() || entry.attempts != attempt {
            return Ok(());
        }
        if !matches!(
            entry.state,
            DeviceState::Sent | DeviceState::Downloading { .. }
        ) {
            return Ok(());
        }
        let mut next = entry;
        next.changed_at = now;
        next.state = if total > 0 && bytes >= total {
            DeviceState::Downloaded
        } else {
            DeviceState::Downloading {
                bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
                of: u32::try_from(total).unwrap_or(u32::MAX),
            }
        };
        self.set_entry(now, campaign, device, next);
        Ok(())
    }

    /// Does whatever is due at `now`: marks stuck devices as failed attempts, retries
    /// after backoff (devices still online), and continues `notify_online` fan-outs.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, campaign, device)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(c) = self.state.campaigns.get(&campaign) else {
                continue;
            };
            let Some(&entry) = c.devices.get(&device) else {
                continue;
            };
            if deadline(&entry, &c.info.spec.options) != Some(at) {
                continue;
            }
            let failure = match entry.state {
                DeviceState::Sent => Some(AttemptFailure::NoDownload),
                DeviceState::Downloading { .. } => Some(AttemptFailure::Stalled),
                DeviceState::Downloaded => Some(AttemptFailure::NoReportAfterDownload),
                _ => None,
            };
            match failure {
                Some(failure) => self.attempt_failed(now, campaign, device, entry, failure),
                None => {
                    if let Some(online) = self.online.get(&device).copied() {
                        let owner = self.strings.get(online.owner);
                        let project = self.strings.get(online.project);
                        if self.winner(device, owner, project) != Some(campaign) {
                            continue;
                        }
                        let seen = Engine::seen_from(&online);
                        let to = SendTo::One(online.conn);
                        self.decide(now, campaign, device, Trigger::Retry, seen, to);
                    }
                }
            }
        }
        self.run_notify(now);
    }

    // ---- decisions ------------------------------------------------------------------

    /// The one decision procedure: every trigger ends here.
    fn decide(
        &mut self,
        now: Timestamp,
        campaign: CampaignId,
        device: DeviceId,
        trigger: Trigger,
        seen: Seen,
        to: SendTo<'_>,
    ) {
        let Some(c) = self.state.campaigns.get(&campaign) else {
            return;
        };
        if !c.info.is_active() {
            return;
        }
        let spec = &c.info.spec;
        let entry = c
            .devices
            .get(&device)
            .copied()
            .unwrap_or_else(|| DeviceEntry::new(now));
        let fw_build = spec.firmware.build.as_deref().map_or(0, build_hash);
        let mut next = entry;
        next.changed_at = now;

        if matches!(
            entry.state,
            DeviceState::Updated | DeviceState::Superseded | DeviceState::Stopped
        ) {
            return;
        }
        // Success / already there.
        let reports_target = fw_build != 0 && seen.build == fw_build;
        let changed_build = fw_build == 0
            && entry.state == DeviceState::Downloaded
            && seen.build != 0
            && seen.build != entry.old_build;
        if reports_target || (trigger == Trigger::Info && changed_build) {
            next.state = if entry.attempts > 0 {
                DeviceState::Updated
            } else {
                DeviceState::UpToDate
            };
            self.set_entry(now, campaign, device, next);
            return;
        }
        if matches!(entry.state, DeviceState::Failed(_)) {
            return;
        }
        if entry.state.in_flight() {
            if trigger == Trigger::Info {
                let failure = if entry.state == DeviceState::Downloaded {
                    AttemptFailure::OldBuildAfterDownload
                } else {
                    AttemptFailure::Reconnected
                };
                self.attempt_failed(now, campaign, device, entry, failure);
            }
            return;
        }
        // Compatibility guard and the deferred "needs a build" rule.
        let skip = if spec.options.force {
            None
        } else {
            guard(spec, &seen, &self.strings)
        };
        let skip = skip
            .or((spec.target.is_deferred() && seen.build == 0)
                .then_some(SkipReason::NoBuildReported));
        if let Some(reason) = skip {
            next.state = DeviceState::Skipped(reason);
            self.set_entry(now, campaign, device, next);
            return;
        }
        // Attempt budget and backoff.
        if entry.attempts >= spec.options.max_attempts {
            return;
        }
        if entry.attempts > 0 {
            let retry_at = entry
                .changed_at
                .plus_millis(spec.options.backoff_after(entry.attempts));
            if now < retry_at {
                if entry.state != DeviceState::Pending {
                    next.state = DeviceState::Pending;
                    self.set_entry(now, campaign, device, next);
                }
                return;
            }
        }
        next.attempts = entry.attempts + 1;
        next.state = DeviceState::Sent;
        next.sent_at = now;
        next.old_build = seen.build;
        let attempt = next.attempts;
        self.set_entry(now, campaign, device, next);
        let mut send = |conn| {
            self.actions.push_back(Action::SendOta {
                conn,
                campaign,
                device,
                attempt,
            })
        };
        match to {
            SendTo::One(conn) => send(conn),
            SendTo::Many(conns) => {
                let mut sent: Vec<ConnId> = Vec::with_capacity(conns.len());
                for &conn in conns {
                    if !sent.contains(&conn) {
                        sent.push(conn);
                        send(conn);
                    }
                }
            }
        }
    }

    /// An attempt ended without the new firmware: retry later, or give up.
    fn attempt_failed(
        &mut self,
        now: Timestamp,
        campaign: CampaignId,
        device: DeviceId,
        entry: DeviceEntry,
        failure: AttemptFailure,
    ) {
        let Some(c) = self.state.campaigns.get(&campaign) else {
            return;
        };
        let mut next = entry;
        next.changed_at = now;
        next.last_failure = Some(failure);
        next.state = if entry.attempts >= c.info.spec.options.max_attempts {
            DeviceState::Failed(FailReason::AttemptsExhausted(failure))
        } else {
            DeviceState::Pending
        };
        self.set_entry(now, campaign, device, next);
    }

    /// Stores an entry, keeps the timer set in step, records the change, and finishes a
    /// token campaign whose device reached a terminal state.
    fn set_entry(
        &mut self,
        now: Timestamp,
        campaign: CampaignId,
        device: DeviceId,
        next: DeviceEntry,
    ) {
        let Some(c) = self.state.campaigns.get_mut(&campaign) else {
            return;
        };
        let options = &c.info.spec.options;
        let old = c.devices.insert(device, next);
        if old == Some(next) {
            return;
        }
        if let Some(t) = old.as_ref().and_then(|e| deadline(e, options)) {
            self.timers.remove(&(t, campaign, device));
        }
        if c.info.is_active() {
            if let Some(t) = deadline(&next, options) {
                self.timers.insert((t, campaign, device));
            }
        }
        self.records.push_back(Record::Device {
            campaign,
            device,
            entry: next,
        });
        let token_done = matches!(c.info.spec.target, Target::Token(_)) && next.state.is_terminal();
        if token_done && c.info.is_active() {
            self.end_campaign(now, campaign, CampaignState::Finished { at: now });
        }
    }

    /// Moves an active campaign to `state`; non-terminal devices become `Stopped` or
    /// `Superseded`.
    fn end_campaign(&mut self, now: Timestamp, campaign: CampaignId, state: CampaignState) {
        let device_state = match state {
            CampaignState::Superseded { .. } => DeviceState::Superseded,
            _ => DeviceState::Stopped,
        };
        let Some(c) = self.state.campaigns.get_mut(&campaign) else {
            return;
        };
        if !c.info.is_active() {
            return;
        }
        c.info.state = state;
        let target = c.info.spec.target.clone();
        self.records
            .push_back(Record::Campaign(Box::new(c.info.clone())));
        let mut open: Vec<(DeviceId, DeviceEntry)> = c
            .devices
            .iter()
            .filter(|(_, e)| !e.state.is_terminal())
            .map(|(&d, &e)| (d, e))
            .collect();
        open.sort_unstable_by_key(|(d, _)| *d);
        for (device, mut entry) in open {
            if let Some(t) = deadline(&entry, &c.info.spec.options) {
                self.timers.remove(&(t, campaign, device));
            }
            entry.state = device_state;
            entry.changed_at = now;
            c.devices.insert(device, entry);
            self.records.push_back(Record::Device {
                campaign,
                device,
                entry,
            });
        }
        self.index_remove(campaign, &target);
        self.notify.remove(&campaign);
    }

    fn run_notify(&mut self, now: Timestamp) {
        let due: Vec<CampaignId> = self
            .notify
            .iter()
            .filter(|(_, q)| q.next_at <= now)
            .map(|(&id, _)| id)
            .collect();
        for campaign in due {
            let rate = self
                .state
                .campaigns
                .get(&campaign)
                .map_or(0, |c| c.info.spec.options.notify_rate_per_sec as usize);
            let batch: Vec<DeviceId> = match self.notify.get_mut(&campaign) {
                Some(q) => {
                    let n = rate.min(q.devices.len());
                    q.next_at = now.plus_millis(1000);
                    q.devices.drain(..n).collect()
                }
                None => continue,
            };
            for device in batch {
                let Some(online) = self.online.get(&device).copied() else {
                    continue;
                };
                let owner = self.strings.get(online.owner);
                let project = self.strings.get(online.project);
                if self.winner(device, owner, project) != Some(campaign) {
                    continue;
                }
                let seen = Engine::seen_from(&online);
                self.decide(
                    now,
                    campaign,
                    device,
                    Trigger::Notify,
                    seen,
                    SendTo::One(online.conn),
                );
            }
            if self
                .notify
                .get(&campaign)
                .is_some_and(|q| q.devices.is_empty())
            {
                self.notify.remove(&campaign);
            }
        }
    }

    // ---- targeting --------------------------------------------------------------------

    /// The active campaign that decides for this device: token > user+project > user >
    /// all (at most one active campaign per exact target, so no ties).
    fn winner(&self, device: DeviceId, owner: &str, project: &str) -> Option<CampaignId> {
        if let Some(&id) = self.token_idx.get(&device) {
            return Some(id);
        }
        if let Some(ids) = self.project_idx.get(owner) {
            let hit = ids.iter().rev().find(|id| {
                self.state
                    .campaigns
                    .get(id)
                    .is_some_and(|c| match &c.info.spec.target {
                        Target::UserProject { project: p, .. } => eq_ignore_case(p, project),
                        _ => false,
                    })
            });
            if let Some(&id) = hit {
                return Some(id);
            }
        }
        self.user_idx.get(owner).copied().or(self.all_idx)
    }

    fn target_matches(&self, target: &Target, online: &Online) -> bool {
        match target {
            Target::Token(_) => false,
            Target::All => true,
            Target::User(email) => self.strings.get(online.owner) == email,
            Target::UserProject { email, project } => {
                self.strings.get(online.owner) == email
                    && eq_ignore_case(self.strings.get(online.project), project)
            }
        }
    }

    fn find_same_target(&self, target: &Target) -> Option<CampaignId> {
        match target {
            Target::Token(d) => self.token_idx.get(d).copied(),
            Target::User(email) => self.user_idx.get(email.as_str()).copied(),
            Target::All => self.all_idx,
            Target::UserProject { email, .. } => {
                self.project_idx.get(email.as_str()).and_then(|ids| {
                    ids.iter().copied().find(|id| {
                        self.state
                            .campaigns
                            .get(id)
                            .is_some_and(|c| c.info.spec.target.same_as(target))
                    })
                })
            }
        }
    }

    fn index_insert(&mut self, id: CampaignId, target: &Target) {
        match target {
            Target::Token(d) => {
                self.token_idx.insert(*d, id);
            }
            Target::User(email) => {
                self.user_idx.insert(email.as_str().into(), id);
            }
            Target::UserProject { email, .. } => {
                self.project_idx
                    .entry(email.as_str().into())
                    .or_default()
                    .push(id);
            }
            Target::All => self.all_idx = Some(id),
        }
    }

    fn index_remove(&mut self, id: CampaignId, target: &Target) {
        match target {
            Target::Token(d) => {
                if self.token_idx.get(d) == Some(&id) {
                    self.token_idx.remove(d);
                }
            }
            Target::User(email) => {
                if self.user_idx.get(email.as_str()) == Some(&id) {
                    self.user_idx.remove(email.as_str());
                }
            }
            Target::UserProject { email, .. } => {
                if let Some(ids) = self.project_idx.get_mut(email.as_str()) {
                    ids.retain(|&x| x != id);
                    if ids.is_empty() {
                        self.project_idx.remove(email.as_str());
                    }
                }
            }
            Target::All => {
                if self.all_idx == Some(id) {
                    self.all_idx = None;
                }
            }
        }
    }

    // ---- the online registry ------------------------------------------------------------

    fn drop_conn(&mut self, conn: ConnId, device: DeviceId) {
        let Some(online) = self.online.get_mut(&device) else {
            return;
        };
        online.live = online.live.saturating_sub(1);
        if online.live == 0 {
            self.online.remove(&device);
        } else if online.conn == conn {
            // Rare (several connections with one token): find another live one.
            if let Some((&other, _)) = self.conns.iter().find(|(_, d)| **d == device) {
                online.conn = other;
            }
        }
    }

    fn seen_from(online: &Online) -> Seen {
        Seen {
            build: online.build,
            fw_type: online.fw_type,
            chip: online.chip,
        }
    }

    /// What the engine knows about a device's report; nothing for a device that has
    /// not sent its info yet (then no guard applies, as for legacy token updates).
    fn seen_of(&self, device: DeviceId) -> Seen {
        match self.online.get(&device) {
            Some(online) => Engine::seen_from(online),
            None => Seen {
                build: 0,
                fw_type: None,
                chip: ChipFamily::Unknown,
            },
        }
    }
}

/// The compatibility guard: fw-type (template) and chip family, when both sides say.
fn guard(spec: &CampaignSpec, seen: &Seen, strings: &Interner) -> Option<SkipReason> {
    if let (Some(want), Some(have)) = (spec.firmware.fw_type.as_deref(), seen.fw_type) {
        if want != strings.get(have) {
            return Some(SkipReason::FirmwareTypeMismatch);
        }
    }
    let image = spec.firmware.kind.chip();
    if image != ChipFamily::Unknown && seen.chip != ChipFamily::Unknown && image != seen.chip {
        return Some(SkipReason::ChipMismatch);
    }
    None
}

/// When an entry next needs the engine's attention, if ever.
fn deadline(entry: &DeviceEntry, options: &CampaignOptions) -> Option<Timestamp> {
    match entry.state {
        DeviceState::Sent => Some(entry.sent_at.plus_millis(options.sent_timeout_ms)),
        DeviceState::Downloading { .. } => {
            Some(entry.changed_at.plus_millis(options.stall_timeout_ms))
        }
        DeviceState::Downloaded => Some(entry.changed_at.plus_millis(options.install_timeout_ms)),
        DeviceState::Pending if entry.attempts > 0 && entry.attempts < options.max_attempts => {
            Some(
                entry
                    .changed_at
                    .plus_millis(options.backoff_after(entry.attempts)),
            )
        }
        _ => None,
    }
}

impl Serialize for Engine {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.state.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Engine {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let state = EngineState::deserialize(deserializer)?;
        Engine::from_state(state).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_per_state() {
        let o = CampaignOptions::default();
        let entry = |state, attempts| DeviceEntry {
            state,
            attempts,
            last_failure: None,
            sent_at: Timestamp(1_000),
            changed_at: Timestamp(5_000),
            old_build: 0,
        };
        let dl = DeviceState::Downloading { bytes: 1, of: 2 };
        let cases = [
            (entry(DeviceState::Sent, 1), Some(1_000 + o.sent_timeout_ms)),
            (entry(dl, 1), Some(5_000 + o.stall_timeout_ms)),
            (
                entry(DeviceState::Downloaded, 1),
                Some(5_000 + o.install_timeout_ms),
            ),
            (entry(DeviceState::Pending, 0), None),
            (
                entry(DeviceState::Pending, 1),
                Some(5_000 + o.backoff_after(1)),
            ),
            (
                entry(DeviceState::Pending, 2),
                Some(5_000 + o.backoff_after(2)),
            ),
            (entry(DeviceState::Pending, 3), None),
            (entry(DeviceState::Updated, 1), None),
            (entry(DeviceState::Stopped, 1), None),
        ];
        for (e, want) in cases {
            assert_eq!(deadline(&e, &o), want.map(Timestamp), "{e:?}");
        }
    }

    #[test]
    fn poll_action_waits_for_records() {
        let mut e = Engine::new();
        e.actions.push_back(Action::SendOta {
            conn: ConnId(1),
            campaign: CampaignId(1),
            device: DeviceId(1),
            attempt: 1,
        });
        e.records.push_back(Record::Device {
            campaign: CampaignId(1),
            device: DeviceId(1),
            entry: DeviceEntry::new(Timestamp(0)),
        });
        assert!(e.poll_action().is_none());
        assert!(e.poll_record().is_some());
        assert!(e.poll_action().is_some());
    }
}
