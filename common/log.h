/* Logging to stderr, one line per message, with journald priority prefixes
 * (<3> .. <7>) so systemd files each line under the right priority. The level
 * is the one mutable global of the daemon (STYLE.md) and is atomic. */
#ifndef SUITD_COMMON_LOG_H
#define SUITD_COMMON_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

void log_level_set(enum log_level level);
enum log_level log_level_get(void);
bool log_enabled(enum log_level level);
/* "err", "warning", "notice", "info", "debug" → level; false if unknown. */
bool log_level_parse(const char *name, enum log_level *ret_level);
const char *log_level_name(enum log_level level);

/* Preserves errno. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
