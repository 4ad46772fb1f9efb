//! The blocking side, on redis-rs: a connection that publishes what the
//! sans-IO types make, for a worker or a CLI (`ch06-emit`). Never call it
//! from an event loop: it waits for Redis (at most its timeout).

use std::time::Duration;

use super::emitter::Publish;

// ANCHOR: publisher
/// A Redis connection for `PUBLISH` and `PUBSUB NUMSUB`, with a timeout on
/// every step, so a blocked Redis is an error rather than a hang.
pub struct Publisher {
    con: ::redis::Connection,
}

impl Publisher {
    /// Connect to `url` (`redis://127.0.0.1:6379`), waiting at most
    /// `timeout` for the connection and for each reply.
    pub fn connect(url: &str, timeout: Duration) -> ::redis::RedisResult<Publisher> {
        let client = ::redis::Client::open(url)?;
        let con = client.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        Ok(Publisher { con })
    }

    /// Publish; returns how many subscribers Redis handed it to.
    pub fn publish(&mut self, p: &Publish) -> ::redis::RedisResult<i64> {
        ::redis::cmd("PUBLISH")
            .arg(&p.channel)
            .arg(&p.payload)
            .query(&mut self.con)
    }

    /// How many servers listen on `channel` (a namespace's request
    /// channel): what a request expects answers from, as Node counts them.
    pub fn numsub(&mut self, channel: &str) -> ::redis::RedisResult<usize> {
        let reply: Vec<(String, usize)> = ::redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut self.con)?;
        Ok(super::requests::servers_from_numsub(&reply, channel))
    }
}
// ANCHOR_END: publisher
