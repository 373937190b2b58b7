//! The server-side event validation hook: refuse pushed events with a reason.

use livestore_rs::EventRecord;

/// Who pushes.
#[derive(Debug, Clone, Copy)]
pub struct PushContext<'a> {
    pub store_id: &'a str,
    /// The `clientId` of the pusher's `hello`.
    pub client_id: &'a str,
}

/// Checks every event of a pushed batch before anything of it is stored.
/// An `Err(reason)` refuses the whole batch: the pusher gets
/// `error { code: 'EVENT_REJECTED', message: reason, event, seqNum }`.
/// Runs on the async runtime for each event: keep it quick.
pub trait EventValidator: Send + Sync + 'static {
    fn validate(&self, ctx: &PushContext<'_>, event: &EventRecord) -> Result<(), String>;
}

impl<F> EventValidator for F
where
    F: Fn(&PushContext<'_>, &EventRecord) -> Result<(), String> + Send + Sync + 'static,
{
    fn validate(&self, ctx: &PushContext<'_>, event: &EventRecord) -> Result<(), String> {
        self(ctx, event)
    }
}

/// Accepts every event.
pub struct AcceptAll;

impl EventValidator for AcceptAll {
    fn validate(&self, _ctx: &PushContext<'_>, _event: &EventRecord) -> Result<(), String> {
        Ok(())
    }
}
