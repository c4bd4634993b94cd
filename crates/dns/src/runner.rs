//! The DNS server of a node: reflects Services, EndpointSlices and Namespaces into the
//! [`Cache`] and serves it. Reflector events are applied as they come (push, no polling), so a
//! change is answered as soon as the API server announced it.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use ferry_runtime::{reflect, Client, ReflectorEvent};

use crate::cache::{Cache, Watched};
use crate::config::DnsConfig;
use crate::error::Error;
use crate::server::{serve, Sockets};

/// Runs the node's cluster DNS on `sockets` until `shutdown`.
pub async fn run(
    client: Client,
    config: DnsConfig,
    sockets: Sockets,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let cache = Arc::new(Cache::new(&config)?);
    // The reflectors and the server stop with the runner, also when it returns an error.
    let stop = shutdown.child_token();
    let _stop_all = stop.clone().drop_guard();
    let inputs = [
        Input::start(&client, Watched::Services, stop.clone())?,
        Input::start(&client, Watched::EndpointSlices, stop.clone())?,
        Input::start(&client, Watched::Namespaces, stop.clone())?,
    ];
    tokio::select! {
        served = serve(Arc::clone(&cache), &config, sockets, stop.clone()) => served,
        fed = feed(&cache, inputs, &stop) => fed,
    }
}

/// One reflected collection.
struct Input {
    what: Watched,
    resource: &'static str,
    events: mpsc::Receiver<ReflectorEvent>,
}

impl Input {
    fn start(client: &Client, what: Watched, stop: CancellationToken) -> Result<Input, Error> {
        let (group, resource) = match what {
            Watched::Services => ("", "services"),
            Watched::EndpointSlices => ("discovery.k8s.io", "endpointslices"),
            Watched::Namespaces => ("", "namespaces"),
        };
        let info = ferry_api::resource::find(group, "v1", resource)
            .ok_or(Error::UnknownResource(resource))?;
        Ok(Input {
            what,
            resource,
            events: reflect(client.clone(), info, stop),
        })
    }
}

/// Applies reflector events to the cache until `stop`.
async fn feed(cache: &Cache, inputs: [Input; 3], stop: &CancellationToken) -> Result<(), Error> {
    let [mut services, mut slices, mut namespaces] = inputs;
    loop {
        let (input, event) = tokio::select! {
            biased;
            _ = stop.cancelled() => return Ok(()),
            event = services.events.recv() => (&services, event),
            event = slices.events.recv() => (&slices, event),
            event = namespaces.events.recv() => (&namespaces, event),
        };
        let event = event.ok_or(Error::ReflectorStopped(input.resource))?;
        cache.apply(input.what, event);
    }
}
