-- checkin.lua — wrk script: device check-ins, one device token per request.
--
-- Usage: wrk -tT -cC -dD --latency -s bench/checkin.lua URL -- MODE [N] [EXPECT] [LEN] [T]
--   MODE    idle:     the devices whose number is not a multiple of 10
--           deployed: the devices whose number is a multiple of 10
--   N       registered devices, numbered 1..N (default 100000)
--   EXPECT  the status every answer must have (default 204)
--   LEN     the body length every answer must have (default 0)
--   T       wrk's -t (default 2)
--
-- Device n's token is "suitd_dt_bench-<n>" (bench/checkin.sh stores its
-- SHA-256). Every request carries the next device's token: the set is cut
-- into T slices, thread t walks slice t from its start and goes on into the
-- next slices (wrapping around), one device per request, shared by the
-- thread's connections. So a run of fewer than set/T requests per thread
-- never repeats a token, and a longer one cycles through the whole set.
-- URL is used as given (path and query, e.g. /device/v1/manifest?seq=0).
-- No If-None-Match is sent.
--
-- Each thread counts the answers by status, bodies of another length and
-- answers without Cache-Control; done() prints one line:
--   checkin: status=CODE:N... wrong_len=N no_cache_control=N requests=N tokens=N
-- which bench/checkin.sh checks.

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

local mode, n, expect, len, count, pos
local seen_status, wrong_len, no_cc, sent = {}, 0, 0, 0

-- The j-th device (0-based) of the mode's set.
local function device(j)
	if mode == "deployed" then
		return (j + 1) * 10
	end
	return math.floor(j / 9) * 10 + (j % 9) + 1
end

function init(args)
	mode = args[1] or "idle"
	n = tonumber(args[2] or 100000)
	expect = tonumber(args[3] or 204)
	len = tonumber(args[4] or 0)
	assert(mode == "idle" or mode == "deployed", "checkin.lua: MODE is idle or deployed")
	local nthreads = tonumber(args[5] or 2)
	count = mode == "deployed" and math.floor(n / 10) or n - math.floor(n / 10)
	set_size = count
	pos = (tid * math.floor(count / nthreads)) % count
end

function request()
	local d = device(pos)
	pos = (pos + 1) % count
	sent = sent + 1
	return wrk.format(nil, nil, { ["Authorization"] = "Bearer suitd_dt_bench-" .. d })
end

function response(status, headers, body)
	seen_status[status] = (seen_status[status] or 0) + 1
	if #body ~= len then
		wrong_len = wrong_len + 1
	end
	if not headers["Cache-Control"] and not headers["cache-control"] then
		no_cc = no_cc + 1
	end
	-- Exported for done(): thread:get() reads globals.
	statuses = ""
	for s, c in pairs(seen_status) do
		statuses = statuses .. s .. ":" .. c .. " "
	end
	bad_len, missing_cc, requests_sent = wrong_len, no_cc, sent
end

function done(summary, latency, requests)
	local total, lens, ccs, sent_all, size = {}, 0, 0, 0, 0
	for _, t in ipairs(threads) do
		local s = t:get("statuses") or ""
		for code, c in s:gmatch("(%d+):(%d+)") do
			total[code] = (total[code] or 0) + tonumber(c)
		end
		lens = lens + (t:get("bad_len") or 0)
		ccs = ccs + (t:get("missing_cc") or 0)
		sent_all = sent_all + (t:get("requests_sent") or 0)
		size = t:get("set_size") or size
	end
	local parts = {}
	for code, c in pairs(total) do
		table.insert(parts, "status=" .. code .. ":" .. c)
	end
	table.sort(parts)
	io.write(string.format("checkin: %s wrong_len=%d no_cache_control=%d requests=%d tokens=%d\n",
		table.concat(parts, " "), lens, ccs, sent_all, size))
end
