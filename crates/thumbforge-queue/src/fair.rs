//! Fair dispatch on Redis: the scripts that decide which organisation's
//! thumbnail a worker gets next.
//!
//! A pushed job does not go straight into its lane's stream. It waits in
//! its organisation's list, `{prefix}:render:wait:{org}` (`render-cpu` for
//! the CPU lane), or in the lane's `:sync` list when a caller waits on it.
//! Jobs move into the stream only as workers can take them, so the stream
//! holds what is running plus a short lookahead, and the order of that
//! move is the schedule:
//!
//! 1. the `:sync` list first, in order;
//! 2. then the organisation of lowest virtual time in the lane's `:ready`
//!    sorted set (weighted fair queuing: each job moved adds
//!    `1 / weight` to its organisation's time, and an organisation that
//!    starts waiting joins at the time of the last job moved, so an idle
//!    organisation saves up no credit);
//! 3. an organisation whose thumbnails in flight (`{prefix}:inflight`,
//!    over both lanes: moved into a stream and not yet acknowledged)
//!    reach its cap leaves `:ready` for `:capped`, and comes back when an
//!    acknowledgement takes it below the cap.
//!
//! Moves happen when jobs are pushed, when one is acknowledged, and before
//! each worker read, each up to the lane's lookahead (entries in the
//! stream not yet delivered). Every script runs atomically, so the counts
//! cannot drift by interleaving; the sweeper still recounts `:inflight`
//! from the streams now and then ([`RECONCILE`]), which also covers an
//! entry removed by hand.
//!
//! `{prefix}:live` maps a waiting thumbnail to `w|{lane}|{queue}|{seq}`,
//! its place in its organisation's list (`{prefix}:seq` counts pushes,
//! `{prefix}:served` moves), so its position is one subtraction; once
//! moved it maps to the stream entry, as before fair dispatch.

use std::sync::LazyLock;

use redis::Script;

/// Undelivered entries a push or an acknowledgement tops a lane's stream
/// up to (`queue.lookahead`), so that a worker blocked on an empty stream
/// wakes; a worker with free slots moves what it reads itself. Small,
/// because the stream is first come, first served: a thumbnail that
/// arrives behind a flood waits behind at most this many of it.
pub(crate) const LOOKAHEAD: usize = 4;

/// Functions every script below starts with.
const COMMON: &str = r"
local GROUP = 'workers'

local function policy(orgs, org)
  local p = redis.call('HGET', orgs, org)
  if not p then return 1, 0 end
  local w, c = string.match(p, '^(%d+):(%d+)$')
  return math.max(tonumber(w), 1), tonumber(c)
end

local function vclock(s)
  return tonumber(redis.call('GET', s .. ':vclock') or '0')
end

local function in_flight(inflight, org)
  return tonumber(redis.call('HGET', inflight, org) or '0')
end

-- `org` has work waiting in lane `s`: it joins the ready set, or the
-- capped set while at its cap, unless it is in one already.
local function ready(s, org, inflight, orgs)
  if redis.call('ZSCORE', s .. ':ready', org) then return end
  if redis.call('SISMEMBER', s .. ':capped', org) == 1 then return end
  local _, cap = policy(orgs, org)
  if cap > 0 and in_flight(inflight, org) >= cap then
    redis.call('SADD', s .. ':capped', org)
  else
    redis.call('ZADD', s .. ':ready', vclock(s), org)
  end
end

-- A capped `org` below its cap again rejoins the ready set.
local function uncap(s, org, inflight, orgs)
  if redis.call('SISMEMBER', s .. ':capped', org) == 0 then return end
  local _, cap = policy(orgs, org)
  if cap == 0 or in_flight(inflight, org) < cap then
    redis.call('SREM', s .. ':capped', org)
    if redis.call('LLEN', s .. ':wait:' .. org) > 0 then
      redis.call('ZADD', s .. ':ready', vclock(s), org)
    end
  end
end

-- Moves waiting jobs of lane `s` into its stream until `room` entries
-- there are undelivered: sync jobs first, then the ready organisation of
-- lowest virtual time. Returns how many moved.
local function promote(s, lane, live, inflight, orgs, served, room)
  local pending = 0
  local summary = redis.pcall('XPENDING', s, GROUP)
  if type(summary) == 'table' and summary.err == nil then pending = summary[1] end
  room = room - (redis.call('XLEN', s) - pending)
  local moved = 0
  while moved < room do
    local q
    local e = redis.call('LPOP', s .. ':sync')
    if e then
      q = '!sync'
    else
      local first = redis.call('ZRANGE', s .. ':ready', 0, 0, 'WITHSCORES')
      if #first == 0 then break end
      local org = first[1]
      local wait = s .. ':wait:' .. org
      e = redis.call('LPOP', wait)
      if e then
        q = org
        redis.call('SET', s .. ':vclock', first[2])
        local weight, cap = policy(orgs, org)
        if redis.call('LLEN', wait) == 0 then
          redis.call('ZREM', s .. ':ready', org)
        elseif cap > 0 and in_flight(inflight, org) + 1 >= cap then
          redis.call('ZREM', s .. ':ready', org)
          redis.call('SADD', s .. ':capped', org)
        else
          redis.call('ZADD', s .. ':ready', tonumber(first[2]) + 1 / weight, org)
        end
      else
        redis.call('ZREM', s .. ':ready', org)
      end
    end
    if e then
      local tid, org, job = string.match(e, '^([^\t]*)\t([^\t]*)\t(.*)$')
      local id = redis.call('XADD', s, '*', 't', tid, 'o', org, 'job', job)
      redis.call('HSET', live, tid, id)
      redis.call('HINCRBY', served, lane .. '|' .. q, 1)
      redis.call('DECR', s .. ':waiting')
      if org ~= '' then redis.call('HINCRBY', inflight, org, 1) end
      moved = moved + 1
    end
  end
  return moved
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

/// Pushes jobs to their organisations' lists (or the sync list), skipping
/// thumbnails that already have one, then moves what fits.
/// KEYS: remote stream, CPU stream, live, inflight, orgs, served, seq.
/// ARGV: lookahead, then per job: lane (1 remote, 2 CPU), thumbnail,
/// org, policy (`weight:cap`, or empty to keep the org's), sync (1/0),
/// payload.
pub(crate) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local room = tonumber(ARGV[1])
local lanes = {'remote', 'cpu'}
local touched = {}
local added = 0
for i = 2, #ARGV, 6 do
  local li = tonumber(ARGV[i])
  local s, lane = KEYS[li], lanes[li]
  local tid, org, pol, sync, job = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  if redis.call('HEXISTS', KEYS[3], tid) == 0 then
    if pol ~= '' then redis.call('HSET', KEYS[5], org, pol) end
    local q = org
    if sync == '1' then q = '!sync' end
    local seq = redis.call('HINCRBY', KEYS[7], lane .. '|' .. q, 1)
    redis.call('HSET', KEYS[3], tid, 'w|' .. lane .. '|' .. q .. '|' .. seq)
    redis.call('INCR', s .. ':waiting')
    local e = tid .. '\t' .. org .. '\t' .. job
    if sync == '1' then
      redis.call('RPUSH', s .. ':sync', e)
    else
      redis.call('RPUSH', s .. ':wait:' .. org, e)
      uncap(s, org, KEYS[4], KEYS[5])
      ready(s, org, KEYS[4], KEYS[5])
    end
    touched[li] = true
    added = added + 1
  end
end
for li, _ in pairs(touched) do
  promote(KEYS[li], lanes[li], KEYS[3], KEYS[4], KEYS[5], KEYS[6], room)
end
return added
",
    )
});

/// Finishes deliveries of one lane: acknowledge and delete each entry,
/// forget its live mark if it still points at it, count the org's
/// thumbnail out of flight (once: only when the entry was still there),
/// then move what fits in both lanes.
/// KEYS: this lane's stream, live, inflight, orgs, served, the other
/// lane's stream. ARGV: lookahead, this lane, the other lane, then per
/// delivery: entry, thumbnail, org.
pub(crate) static ACK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local room = tonumber(ARGV[1])
for i = 4, #ARGV, 3 do
  local entry, tid, org = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('XACK', KEYS[1], GROUP, entry)
  local gone = redis.call('XDEL', KEYS[1], entry)
  if redis.call('HGET', KEYS[2], tid) == entry then
    redis.call('HDEL', KEYS[2], tid)
  end
  if gone == 1 and org ~= '' then
    if redis.call('HINCRBY', KEYS[3], org, -1) <= 0 then
      redis.call('HDEL', KEYS[3], org)
    end
    uncap(KEYS[1], org, KEYS[3], KEYS[4])
    uncap(KEYS[6], org, KEYS[3], KEYS[4])
  end
end
promote(KEYS[1], ARGV[2], KEYS[2], KEYS[3], KEYS[4], KEYS[5], room)
promote(KEYS[6], ARGV[3], KEYS[2], KEYS[3], KEYS[4], KEYS[5], room)
return 1
",
    )
});

/// Moves what fits into one lane's stream before a worker reads it.
/// KEYS: stream, live, inflight, orgs, served. ARGV: room, lane.
pub(crate) static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
return promote(KEYS[1], ARGV[2], KEYS[2], KEYS[3], KEYS[4], KEYS[5], tonumber(ARGV[1]))
",
    )
});

/// Recounts each org's thumbnails in flight from the entries in both
/// streams, lets capped orgs below their cap rejoin, and moves what fits.
/// KEYS: remote stream, CPU stream, live, inflight, orgs, served.
/// ARGV: lookahead. Returns the entries counted.
pub(crate) static RECONCILE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local lanes = {'remote', 'cpu'}
local counts = {}
local total = 0
for li = 1, 2 do
  for _, entry in ipairs(redis.call('XRANGE', KEYS[li], '-', '+')) do
    local fields = entry[2]
    for j = 1, #fields, 2 do
      if fields[j] == 'o' and fields[j + 1] ~= '' then
        counts[fields[j + 1]] = (counts[fields[j + 1]] or 0) + 1
        total = total + 1
      end
    end
  end
end
redis.call('DEL', KEYS[4])
for org, n in pairs(counts) do redis.call('HSET', KEYS[4], org, n) end
for li = 1, 2 do
  for _, org in ipairs(redis.call('SMEMBERS', KEYS[li] .. ':capped')) do
    uncap(KEYS[li], org, KEYS[4], KEYS[5])
  end
  promote(KEYS[li], lanes[li], KEYS[3], KEYS[4], KEYS[5], KEYS[6], tonumber(ARGV[1]))
end
return total
",
    )
});

/// Where each thumbnail stands: its position among its org's waiting
/// thumbnails (from 1), 0 once moved into a stream, -1 when not queued.
/// KEYS: live, served. ARGV: thumbnails.
pub(crate) static STANDINGS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i, tid in ipairs(ARGV) do
  local v = redis.call('HGET', KEYS[1], tid)
  if not v then
    out[i] = -1
  else
    local lane, q, seq = string.match(v, '^w|([^|]*)|(.*)|(%d+)$')
    if seq then
      local served = tonumber(redis.call('HGET', KEYS[2], lane .. '|' .. q) or '0')
      out[i] = math.max(1, tonumber(seq) - served)
    else
      out[i] = 0
    end
  end
end
return out
",
    )
});

/// Each org with thumbnails waiting in a lane, the count and the oldest's
/// push time: a flat array org, count, enqueued_at_ms, …
/// KEYS: the lane's stream.
pub(crate) static WAITING_BY_ORG: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local out = {}
local s = KEYS[1]
local function add(org)
  local wait = s .. ':wait:' .. org
  local n = redis.call('LLEN', wait)
  if n > 0 then
    local head = redis.call('LINDEX', wait, 0)
    local at = tonumber(string.match(head, '"enqueued_at_ms":(%-?%d+)') or '0')
    table.insert(out, org)
    table.insert(out, n)
    table.insert(out, at)
  end
end
for _, org in ipairs(redis.call('ZRANGE', s .. ':ready', 0, -1)) do add(org) end
for _, org in ipairs(redis.call('SMEMBERS', s .. ':capped')) do add(org) end
return out
"#,
    )
});

/// The work a lane's workers could be doing now: the stream's entries
/// (running, or handed out and about to start) plus the waiting jobs that
/// a free slot would start (sync and ready organisations'; a capped
/// organisation's work is left out: more workers would not run it
/// sooner). Divided by one worker's slots, it is the workers wanted.
/// KEYS: the lane's stream.
pub(crate) static DEMAND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = KEYS[1]
local n = redis.call('XLEN', s) + redis.call('LLEN', s .. ':sync')
for _, org in ipairs(redis.call('ZRANGE', s .. ':ready', 0, -1)) do
  n = n + redis.call('LLEN', s .. ':wait:' .. org)
end
return n
",
    )
});
