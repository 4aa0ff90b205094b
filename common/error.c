#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const titles[] = {
#define ERROR_TITLE(name, slug, title) [ERR_##name] = title,
	ERROR_LIST(ERROR_TITLE)
#undef ERROR_TITLE
};

static const char *const slugs[] = {
#define ERROR_SLUG(name, slug, title) [ERR_##name] = slug,
	ERROR_LIST(ERROR_SLUG)
#undef ERROR_SLUG
};

const char *err_title(enum err e)
{
	return (unsigned)e < ERR__COUNT ? titles[e] : "Unknown error";
}

const char *err_slug(enum err e)
{
	return (unsigned)e < ERR__COUNT ? slugs[e] : "internal";
}

enum err diag_set(struct diag *d, enum err e, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return e;
	snprintf(d->field, sizeof(d->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
	return e;
}
