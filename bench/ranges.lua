-- ranges.lua — wrk script: random single-range GETs of a fixed length.
--
-- Usage: wrk -tT -cC -dMAXs -s bench/ranges.lua URL -- SIZE [LEN] [TOTAL] [SEED]
--   SIZE   size in bytes of the resource behind URL (required)
--   LEN    bytes per range (default 131072 = 128 KiB)
--   TOTAL  stop after about this many requests in all threads (default 10000)
--   SEED   base random seed (default 12345); thread i uses SEED + i, so a
--          run is reproducible and both servers get the same ranges
--
-- Every request carries `Range: bytes=a-(a+LEN-1)` with a uniformly random
-- start a in [0, SIZE-LEN] (not aligned to anything).
--
-- Stopping after TOTAL requests: wrk 4.1 measures a run from start until its
-- main thread wakes from sleep(-d), and wrk.thread:stop() does not wake it,
-- so Requests/sec would be divided by the whole -d. Instead, the threads
-- share one request counter (plain memory, see setup()); a worker thread that
-- sees the counter pass TOTAL stops its own event loop, and the first one
-- sends SIGINT to the process. SIGINT is blocked in the worker threads, so
-- it lands in the main thread, whose sleep() returns early; wrk then joins
-- the threads and reports the real elapsed time. -d is only an upper bound.
-- A few requests in flight when a thread stops are not counted, so a run
-- completes TOTAL minus at most C requests.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { unsigned long val[16]; } ranges_sigset_t;
int sigemptyset(ranges_sigset_t *set);
int sigaddset(ranges_sigset_t *set, int signum);
int pthread_sigmask(int how, const ranges_sigset_t *set, ranges_sigset_t *old);
int kill(int pid, int sig);
int getpid(void);
long syscall(long number, ...);
void *calloc(size_t n, size_t size);
]]

local SIG_BLOCK, SIGINT, SYS_gettid = 0, 2, 186 -- Linux x86-64

-- setup() runs in the main thread's Lua state once per wrk thread.
local nthreads, shared = 0, nil
function setup(thread)
	if not shared then
		-- One counter for all threads; never freed (the process ends).
		shared = ffi.cast("int32_t *", ffi.C.calloc(1, 4))
	end
	thread:set("id", nthreads)
	thread:set("counter_addr", tonumber(ffi.cast("uintptr_t", shared)))
	nthreads = nthreads + 1
end

local size, len, total, counter, prepared, stopped

function init(args)
	size = tonumber(args[1])
	len = tonumber(args[2] or 131072)
	total = tonumber(args[3] or 10000)
	local seed = tonumber(args[4] or 12345)
	assert(size and size >= len, "ranges.lua: pass the resource size: -- SIZE [LEN] [TOTAL] [SEED]")
	math.randomseed(seed + id)
	counter = ffi.cast("volatile int32_t *", counter_addr)
end

-- The first call in a worker thread blocks SIGINT there (wrk may also call
-- request() from the main thread while it prepares; that one must not).
local function prepare()
	if tonumber(ffi.C.syscall(SYS_gettid)) == ffi.C.getpid() then
		return
	end
	local set = ffi.new("ranges_sigset_t")
	ffi.C.sigemptyset(set)
	ffi.C.sigaddset(set, SIGINT)
	ffi.C.pthread_sigmask(SIG_BLOCK, set, nil)
	prepared = true
end

function request()
	if not prepared then
		prepare()
	end
	-- Not atomic: a lost increment only lets one more request through.
	local n = counter[0] + 1
	counter[0] = n
	if n > total and prepared and not stopped then
		stopped = true
		wrk.thread:stop()
		ffi.C.kill(ffi.C.getpid(), SIGINT)
	end
	local a = math.random(0, size - len)
	wrk.headers["Range"] = string.format("bytes=%d-%d", a, a + len - 1)
	return wrk.format()
end
