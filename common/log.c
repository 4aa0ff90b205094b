#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int current_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERR] = "err",   [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
};

void log_level_set(enum log_level level)
{
	atomic_store(&current_level, (int)level);
}

enum log_level log_level_get(void)
{
	return (enum log_level)atomic_load(&current_level);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&current_level);
}

bool log_level_parse(const char *name, enum log_level *ret_level)
{
	for (int l = LOG_LEVEL_ERR; l <= LOG_LEVEL_DEBUG; l++) {
		if (strcmp(name, level_names[l]) == 0) {
			*ret_level = (enum log_level)l;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	if (level < LOG_LEVEL_ERR || level > LOG_LEVEL_DEBUG)
		return "unknown";
	return level_names[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	int saved_errno = errno;
	char line[1024];
	va_list ap;
	int n;

	if (!log_enabled(level)) {
		errno = saved_errno;
		return;
	}
	n = snprintf(line, sizeof(line), "<%d>", (int)level);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* Newlines inside a message would forge journal lines: flatten them. */
	for (char *p = line + n; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	size_t len = strlen(line);
	line[len++] = '\n';
	/* One write() per line keeps lines whole between threads. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	errno = saved_errno;
}
