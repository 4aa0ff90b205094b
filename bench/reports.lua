-- reports.lua — wrk script: device reports (POST /device/v1/reports), one
-- device token per request, and a run that ends with no request in flight.
--
-- Usage: wrk -tT -cC -dMAXs --latency -s bench/reports.lua URL -- MODE DIGEST [N] [SECS] [T] [BASE] [OFFSET]
--   MODE    timed: every thread sends reports for SECS seconds
--           once:  every device gets exactly one report (thread t sends one
--                  for each device of its slice, see below)
--   DIGEST  the manifest digest (hex) the reports name
--   N       registered devices, numbered 1..N (default 6400)
--   SECS    timed mode: seconds of sending (default 10)
--   T       wrk's -t (default 2)
--   BASE    added to P below (default 0): a "once" run with another BASE
--           sends every device another body than the run before, so that
--           no report is an exact replay of the device's newest one
--   OFFSET  device k of the set is device number OFFSET + k (default 0):
--           bench/million.sh reports as 1,000 devices numbered after its
--           million
--
-- URL is the report endpoint (https://127.0.0.1:PORT/device/v1/reports).
-- Every request is
--   POST, Authorization: Bearer suitd_dt_bench-<n>, Content-Type: application/json
--   {"manifest":"DIGEST","state":"downloading","progress":P}
-- with P = 0, 1, ..., 100, 0, 1, ... per thread. Device n's token is
-- "suitd_dt_bench-<n>" (bench/reports.sh stores its SHA-256). The devices
-- are cut into T slices; thread t starts at the start of slice t and takes
-- the next device for each request, shared by its connections. "once" stops
-- at the end of the slice (the last slice takes the remainder); "timed"
-- goes on into the next slices, wrapping around.
--
-- Ending without requests in flight. wrk 4.1 stops a run at -d wherever its
-- connections are; a report sent just before would be committed by suitd
-- without its 204 being counted, and the script could not compare the
-- reports table with the 204s. So a thread stops sending instead: delay()
-- (called before every request) holds each connection back for an hour
-- once the thread's SECS are over (or, in "once", its slice is sent). When
-- a stopped thread has an answer for every request it sent, it counts
-- itself done (a mutex-protected counter in memory all threads share); the
-- last thread done sends SIGINT to wrk, whose main thread wakes from
-- sleep(-d), stops the threads and prints the results. SIGINT is blocked in
-- the worker threads through LuaJIT's FFI, so it lands in the main thread.
-- -d is only an upper bound. wrk's own Requests/sec therefore counts the
-- short drain at the end as well; the rate to use is the one done() prints.
--
-- Each thread counts the answers by status, the requests it sent and the
-- time (CLOCK_MONOTONIC) of its first request and its last answer. done()
-- prints one line, which bench/reports.sh checks:
--   reports: status=CODE:N... sent=N answered=N seconds=S devices=N
-- seconds runs from the first request of any thread to the last answer.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { unsigned long val[16]; } reports_sigset_t;
typedef struct { long tv_sec; long tv_nsec; } reports_timespec_t;
int sigemptyset(reports_sigset_t *set);
int sigaddset(reports_sigset_t *set, int signum);
int pthread_sigmask(int how, const reports_sigset_t *set, reports_sigset_t *old);
int pthread_mutex_lock(void *mutex);
int pthread_mutex_unlock(void *mutex);
int clock_gettime(int clock, reports_timespec_t *ts);
int kill(int pid, int sig);
int getpid(void);
long syscall(long number, ...);
void *calloc(size_t n, size_t size);
]]

local SIG_BLOCK, SIGINT, SYS_gettid, CLOCK_MONOTONIC = 0, 2, 186, 1 -- Linux x86-64
local HOLD_MS = 3600 * 1000 -- longer than any -d the script passes
local MUTEX_BYTES = 64 -- a zeroed pthread_mutex_t (40 bytes) is an unlocked default mutex

-- setup() runs in the main thread's Lua state once per wrk thread.
local threads, shared = {}, nil
function setup(thread)
	if not shared then
		-- The mutex, then the count of done threads; never freed.
		shared = ffi.C.calloc(1, MUTEX_BYTES + 8)
	end
	thread:set("tid", #threads)
	thread:set("shared_addr", tonumber(ffi.cast("uintptr_t", shared)))
	table.insert(threads, thread)
end

local ts = ffi.new("reports_timespec_t")
local function now()
	ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
	return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local mode, digest, n, secs, nthreads, base, offset
local first, last, pos, deadline, mutex, ndone
local cleared, sent, answered, stopped, finished, prepared = 0, 0, 0, false, false, false
local seen_status = {}
local headers = { ["Content-Type"] = "application/json" }

function init(args)
	mode = args[1] or "timed"
	digest = args[2] or ""
	n = tonumber(args[3] or 6400)
	secs = tonumber(args[4] or 10)
	nthreads = tonumber(args[5] or 2)
	base = tonumber(args[6] or 0)
	offset = tonumber(args[7] or 0)
	assert(mode == "timed" or mode == "once", "reports.lua: MODE is timed or once")
	assert(digest:match("^%x+$") and #digest >= 64, "reports.lua: pass the manifest digest in hex")
	local slice = math.floor(n / nthreads)
	first = tid * slice
	last = (tid == nthreads - 1) and n or first + slice
	pos = first
	mutex = ffi.cast("void *", shared_addr)
	ndone = ffi.cast("int64_t *", shared_addr + MUTEX_BYTES)
	-- Exported for done() (thread:get() reads globals).
	set_size, requests_sent, answers, t_first, t_last, statuses = n, 0, 0, 0, 0, ""
end

-- The first call in a worker thread blocks SIGINT there (wrk also calls
-- request() once from the main thread while it prepares; that call is not
-- a request sent and must not block SIGINT).
local function in_worker()
	if prepared then
		return true
	end
	if tonumber(ffi.C.syscall(SYS_gettid)) == ffi.C.getpid() then
		return false
	end
	local set = ffi.new("reports_sigset_t")
	ffi.C.sigemptyset(set)
	ffi.C.sigaddset(set, SIGINT)
	ffi.C.pthread_sigmask(SIG_BLOCK, set, nil)
	prepared = true
	return true
end

-- A stopped thread with every request answered is done; the last one done
-- ends the run.
local function check_done()
	if finished or not stopped or answered ~= sent then
		return
	end
	finished = true
	ffi.C.pthread_mutex_lock(mutex)
	ndone[0] = ndone[0] + 1
	local all = tonumber(ndone[0]) == nthreads
	ffi.C.pthread_mutex_unlock(mutex)
	if all then
		ffi.C.kill(ffi.C.getpid(), SIGINT)
	end
end

function delay()
	in_worker()
	if not stopped then
		if mode == "once" then
			stopped = cleared >= last - first
		else
			if not deadline then
				deadline = now() + secs
			end
			stopped = now() >= deadline
		end
	end
	if stopped then
		check_done()
		return HOLD_MS
	end
	-- Each delay() of 0 is followed by exactly one request() on that connection.
	cleared = cleared + 1
	return 0
end

function request()
	local d = pos + 1
	if in_worker() then
		pos = pos + 1
		if pos >= n then
			pos = 0
		end
		if sent == 0 then
			t_first = now()
		end
		sent = sent + 1
		requests_sent = sent
	end
	headers["Authorization"] = "Bearer suitd_dt_bench-" .. (offset + d)
	local body = string.format('{"manifest":"%s","state":"downloading","progress":%d}', digest, (sent + base) % 101)
	return wrk.format("POST", nil, headers, body)
end

function response(status, _, _)
	answered = answered + 1
	answers = answered
	t_last = now()
	seen_status[status] = (seen_status[status] or 0) + 1
	local parts = {}
	for s, c in pairs(seen_status) do
		parts[#parts + 1] = s .. ":" .. c
	end
	statuses = table.concat(parts, " ")
	check_done()
end

function done(_, _, _)
	local total, sent_all, answered_all, size = {}, 0, 0, 0
	local t0, t1 = nil, nil
	for _, t in ipairs(threads) do
		for code, c in (t:get("statuses") or ""):gmatch("(%d+):(%d+)") do
			total[code] = (total[code] or 0) + tonumber(c)
		end
		sent_all = sent_all + (t:get("requests_sent") or 0)
		answered_all = answered_all + (t:get("answers") or 0)
		size = t:get("set_size") or size
		local f, l = t:get("t_first") or 0, t:get("t_last") or 0
		if f > 0 and (not t0 or f < t0) then
			t0 = f
		end
		if l > 0 and (not t1 or l > t1) then
			t1 = l
		end
	end
	local parts = {}
	for code, c in pairs(total) do
		table.insert(parts, "status=" .. code .. ":" .. c)
	end
	table.sort(parts)
	io.write(string.format("reports: %s sent=%d answered=%d seconds=%.3f devices=%d\n",
		table.concat(parts, " "), sent_all, answered_all, (t0 and t1) and (t1 - t0) or 0, size))
end
