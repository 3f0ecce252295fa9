//! Commands operators queue for nodes: queued → delivered → succeeded | failed | timed_out |
//! canceled. Delivery is at least once (a delivered command is handed out again until the node
//! reports a result); an idempotency key makes a repeated submission harmless. Open commands
//! are also kept in memory, so a node polling with nothing to do costs no store read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;

use super::EdgeSync;
use super::nodes::node_not_found;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Command, CommandId, CommandStatus, NodeId, Timestamp, validate};
use crate::notify::Notification;
use crate::store::{
    Collection, ListQuery, Order, Record, RecordKey, Store, StoreExt, UniqueIndex, Versioned, Write,
};

/// What an operator queues.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCommand {
    /// What to do (`restart_function`, `flush_cache`, `run_migration`, or a custom kind).
    pub kind: String,
    /// Arguments (at most 64 KiB as JSON).
    pub payload: serde_json::Value,
    /// Seconds until it expires if not finished (1 to 86 400).
    pub timeout: Duration,
    /// Makes a repeated submission return the first command instead of queueing another.
    pub idempotency_key: Option<String>,
}

/// What a node reports.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandResult {
    /// Whether it worked.
    pub succeeded: bool,
    /// What it produced.
    pub output: serde_json::Value,
}

/// Longest command timeout.
pub const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Open (not finished) commands by node.
#[derive(Debug, Default)]
pub(super) struct OpenCommands {
    by_node: RwLock<HashMap<NodeId, BTreeMap<CommandId, Versioned<Command>>>>,
}

impl OpenCommands {
    pub(super) async fn load(store: &dyn Store) -> Result<Self> {
        let this = Self::default();
        store
            .for_each_record(Collection::Commands { node_id: None }, |s| {
                if let Record::Command(c) = s.record
                    && !c.status.is_terminal()
                {
                    this.put(Versioned {
                        revision: s.revision,
                        value: c,
                    });
                }
            })
            .await?;
        Ok(this)
    }

    /// Replaces everything with a fresh load.
    pub(super) fn replace_with(&self, fresh: OpenCommands) {
        let map = fresh
            .by_node
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        *self.by_node.write().unwrap_or_else(PoisonError::into_inner) = map;
    }

    fn put(&self, c: Versioned<Command>) {
        let mut map = self.by_node.write().unwrap_or_else(PoisonError::into_inner);
        let node = map.entry(c.value.node_id).or_default();
        if c.value.status.is_terminal() {
            node.remove(&c.value.id);
        } else {
            node.insert(c.value.id, c);
        }
    }

    fn of_node(&self, node: NodeId) -> Vec<Versioned<Command>> {
        self.by_node
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&node)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn all(&self) -> Vec<Versioned<Command>> {
        self.by_node
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }
}

fn command_not_found(id: CommandId) -> Error {
    Error::new(
        ErrorCode::CommandNotFound,
        format!("no command with id {id} for this node"),
    )
}

impl EdgeSync {
    /// Queues a command for a node. With an idempotency key already used for this node, returns
    /// the existing command (`false`: not created) when it asked for the same thing, or fails with
    /// `idempotency_key_reused` when it did not.
    pub async fn queue_command(&self, node_id: NodeId, new: NewCommand) -> Result<(Command, bool)> {
        if !self.inner.fleet.contains(node_id) {
            return Err(node_not_found(node_id));
        }
        validate::name("kind", &new.kind)?;
        if new.timeout.is_zero() || new.timeout > MAX_COMMAND_TIMEOUT {
            return Err(Error::invalid("timeout_s must be between 1 and 86400"));
        }
        if serde_json::to_vec(&new.payload)
            .map(|v| v.len())
            .unwrap_or(usize::MAX)
            > 64 * 1024
        {
            return Err(Error::invalid("payload must be at most 64 KiB of JSON"));
        }
        if let Some(k) = &new.idempotency_key {
            validate::text("idempotency_key", k, 128)?;
            if k.is_empty() {
                return Err(Error::invalid("idempotency_key must not be empty"));
            }
            if let Some(existing) = self.command_by_key(node_id, k).await? {
                return self.same_request(existing, &new).map(|c| (c, false));
            }
        }
        let now = self.now();
        let command = Command {
            id: CommandId::ordered(),
            node_id,
            kind: new.kind.clone(),
            payload: new.payload.clone(),
            idempotency_key: new.idempotency_key.clone(),
            status: CommandStatus::Queued,
            created_at: now,
            deadline: now.plus(new.timeout),
            delivered_at: None,
            finished_at: None,
            output: None,
            deliveries: 0,
            late_result: None,
        };
        match self
            .commit_control(&[Write::create(Record::Command(command.clone()))])
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == ErrorCode::UniqueViolation => {
                // Submitted twice at once: the other one won.
                let key = new.idempotency_key.as_deref().unwrap_or_default();
                let existing = self.command_by_key(node_id, key).await?.ok_or(e)?;
                return self.same_request(existing, &new).map(|c| (c, false));
            }
            Err(e) => return Err(e),
        }
        self.inner.commands.put(Versioned {
            revision: 1,
            value: command.clone(),
        });
        self.inner.notifier.publish(Notification {
            topic: format!("edgesync/nodes/{node_id}/commands"),
            payload: Bytes::from(
                serde_json::json!({"node_id": node_id, "command_id": command.id}).to_string(),
            ),
        });
        tracing::info!(%node_id, command_id = %command.id, kind = %command.kind, "command queued");
        Ok((command, true))
    }

    async fn command_by_key(&self, node_id: NodeId, key: &str) -> Result<Option<Command>> {
        Ok(self
            .inner
            .store
            .get_unique(
                UniqueIndex::CommandIdempotencyKey,
                &format!("{node_id}/{key}"),
            )
            .await?
            .and_then(|s| match s.record {
                Record::Command(c) => Some(c),
                _ => None,
            }))
    }

    fn same_request(&self, existing: Command, new: &NewCommand) -> Result<Command> {
        if existing.kind == new.kind && existing.payload == new.payload {
            Ok(existing)
        } else {
            Err(Error::new(
                ErrorCode::IdempotencyKeyReused,
                format!(
                    "idempotency key already used by command {} with other content",
                    existing.id
                ),
            ))
        }
    }

    /// The commands a node should run now (queued, or delivered without a result yet: delivery
    /// is at least once). Marks them delivered. Answered from memory when there are none.
    pub async fn deliver_commands(&self, node_id: NodeId) -> Result<Vec<Command>> {
        if !self.inner.fleet.contains(node_id) {
            return Err(node_not_found(node_id));
        }
        let now = self.now();
        let open = self.inner.commands.of_node(node_id);
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let mut writes = Vec::new();
        let mut delivered = Vec::new();
        for c in open {
            if c.value.deadline <= now {
                continue;
            }
            let mut cmd = c.value.clone();
            cmd.status = CommandStatus::Delivered;
            cmd.delivered_at.get_or_insert(now);
            cmd.deliveries += 1;
            writes.push(Write::update(Record::Command(cmd.clone()), c.revision));
            delivered.push(Versioned {
                revision: c.revision + 1,
                value: cmd,
            });
        }
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        match self.inner.store.commit(&writes).await {
            Ok(_) => {}
            // Canceled or finished meanwhile: the node asks again.
            Err(e) if e.code() == ErrorCode::RevisionConflict => {
                self.reload_open_commands(node_id).await?;
                return Err(Error::new(
                    ErrorCode::RevisionConflict,
                    "commands changed while delivering; poll again",
                ));
            }
            Err(e) => return Err(e),
        }
        let out = delivered.iter().map(|c| c.value.clone()).collect();
        for c in delivered {
            self.inner.commands.put(c);
        }
        Ok(out)
    }

    async fn reload_open_commands(&self, node_id: NodeId) -> Result<()> {
        for s in self
            .inner
            .store
            .list_all(Collection::Commands {
                node_id: Some(node_id),
            })
            .await?
        {
            if let Record::Command(c) = s.record {
                self.inner.commands.put(Versioned {
                    revision: s.revision,
                    value: c,
                });
            }
        }
        Ok(())
    }

    /// Records a node's result. A result for an expired or canceled command is kept as
    /// `late_result` without changing the status; a repeated result is harmless.
    pub async fn report_command_result(
        &self,
        node_id: NodeId,
        id: CommandId,
        result: CommandResult,
    ) -> Result<Command> {
        let status = if result.succeeded {
            CommandStatus::Succeeded
        } else {
            CommandStatus::Failed
        };
        self.update_command(node_id, id, |c, now| {
            match c.status {
                CommandStatus::Queued | CommandStatus::Delivered => {
                    c.status = status;
                    c.finished_at = Some(now);
                    c.output = Some(result.output.clone());
                }
                CommandStatus::TimedOut | CommandStatus::Canceled => {
                    c.late_result = Some(
                        serde_json::json!({"succeeded": result.succeeded, "output": result.output}),
                    );
                }
                // Delivered twice, reported twice: the first result stands.
                CommandStatus::Succeeded | CommandStatus::Failed => {}
            }
            Ok(())
        })
        .await
    }

    /// Cancels a command that has not finished.
    pub async fn cancel_command(&self, node_id: NodeId, id: CommandId) -> Result<Command> {
        self.update_command(node_id, id, |c, now| {
            if c.status.is_terminal() {
                return Err(Error::new(
                    ErrorCode::CommandFinished,
                    format!("command {id} already finished ({})", c.status.as_str()),
                ));
            }
            c.status = CommandStatus::Canceled;
            c.finished_at = Some(now);
            Ok(())
        })
        .await
    }

    async fn update_command(
        &self,
        node_id: NodeId,
        id: CommandId,
        change: impl Fn(&mut Command, Timestamp) -> Result<()>,
    ) -> Result<Command> {
        let key = RecordKey::Command { node_id, id };
        for _ in 0..5 {
            let stored = self
                .inner
                .store
                .get(&key)
                .await?
                .ok_or_else(|| command_not_found(id))?;
            let Record::Command(mut c) = stored.record else {
                return Err(Error::internal("a command key holds another record"));
            };
            let before = c.clone();
            change(&mut c, self.now())?;
            if c == before {
                return Ok(c);
            }
            match self
                .commit_control(&[Write::update(Record::Command(c.clone()), stored.revision)])
                .await
            {
                Ok(_) => {
                    self.inner.commands.put(Versioned {
                        revision: stored.revision + 1,
                        value: c.clone(),
                    });
                    tracing::info!(%node_id, command_id = %id, status = c.status.as_str(), "command updated");
                    return Ok(c);
                }
                Err(e) if e.code() == ErrorCode::RevisionConflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(
            ErrorCode::RevisionConflict,
            "the command kept changing; try again",
        ))
    }

    /// One command.
    pub async fn command(&self, node_id: NodeId, id: CommandId) -> Result<Command> {
        match self
            .inner
            .store
            .get(&RecordKey::Command { node_id, id })
            .await?
        {
            Some(s) => match s.record {
                Record::Command(c) => Ok(c),
                _ => Err(Error::internal("a command key holds another record")),
            },
            None => Err(command_not_found(id)),
        }
    }

    /// A node's commands, newest first, optionally only those with `status`.
    pub async fn commands(
        &self,
        node_id: NodeId,
        status: Option<CommandStatus>,
        limit: usize,
    ) -> Result<Vec<Command>> {
        if !self.inner.fleet.contains(node_id) {
            return Err(node_not_found(node_id));
        }
        let mut out = Vec::new();
        let mut q = ListQuery {
            collection: Collection::Commands {
                node_id: Some(node_id),
            },
            after: None,
            limit: crate::store::MAX_PAGE,
            order: Order::Descending,
        };
        loop {
            let page = self.inner.store.list(&q).await?;
            for s in page.items {
                if let Record::Command(c) = s.record
                    && status.is_none_or(|st| st == c.status)
                {
                    out.push(c);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            match page.next {
                Some(n) => q.after = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Times out open commands past their deadline; returns how many.
    pub async fn expire_commands(&self) -> Result<usize> {
        let now = self.now();
        let mut expired = 0;
        for c in self.inner.commands.all() {
            if c.value.deadline > now {
                continue;
            }
            let node = c.value.node_id;
            let id = c.value.id;
            match self
                .update_command(node, id, |cmd, now| {
                    if !cmd.status.is_terminal() && cmd.deadline <= now {
                        cmd.status = CommandStatus::TimedOut;
                        cmd.finished_at = Some(now);
                    }
                    Ok(())
                })
                .await
            {
                Ok(cmd) if cmd.status == CommandStatus::TimedOut => expired += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(command_id = %id, error = %e, "could not expire a command")
                }
            }
        }
        Ok(expired)
    }
}
