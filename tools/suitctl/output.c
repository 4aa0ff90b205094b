/* suitctl output: tables sized to the terminal, -o json (the API's JSON),
 * -o ndjson (one item per line), -q (ids only). Lists follow the keyset
 * pagination to the end, or to --limit items. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tools/suitctl/ctl.h"

json_t *ctl_member(json_t *obj, const char *path)
{
	char part[64];

	while (obj && *path) {
		size_t n = strcspn(path, ".");
		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		obj = json_object_get(obj, part);
		path += n;
		if (*path == '.')
			path++;
	}
	return obj;
}

void ctl_value_text(json_t *v, char *out, size_t size)
{
	struct buf b;
	size_t i;
	json_t *e;

	out[0] = 0;
	if (!v || json_is_null(v) || (json_is_array(v) && !json_array_size(v))) {
		snprintf(out, size, "-");
	} else if (json_is_string(v)) {
		snprintf(out, size, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(out, size, "%lld", (long long)json_integer_value(v));
	} else if (json_is_true(v) || json_is_false(v)) {
		snprintf(out, size, "%s", json_is_true(v) ? "yes" : "no");
	} else if (json_is_array(v)) {
		buf_init(&b, size > 1 ? size - 1 : 1);
		json_array_foreach(v, i, e)
		{
			char one[256];
			ctl_value_text(e, one, sizeof(one));
			if (i)
				buf_append_str(&b, ",");
			buf_append_str(&b, one);
		}
		snprintf(out, size, "%s", buf_str(&b));
		buf_release(&b);
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(out, size, "%s", t ? t : "");
		free(t);
	}
	/* One line per row: control characters become spaces. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
}

unsigned ctl_term_width(const struct ctl *c)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");

	if (c->tty_out && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		return ws.ws_col;
	if (env && *env)
		return (unsigned)strtoul(env, NULL, 10);
	return 0;
}

static void print_json(json_t *v, size_t flags)
{
	char *t = json_dumps(v, flags | JSON_ENCODE_ANY);
	if (t)
		printf("%s\n", t);
	free(t);
}

/* Rows of text cells; widths fitted to the terminal: the widest columns
 * shrink first, cut cells end in '~'. */
static void print_table(const struct ctl *c, const struct ctl_view *v, json_t *items)
{
	size_t rows = json_array_size(items), nc = v->ncols;
	size_t *w = calloc(nc, sizeof(*w));
	char **cells = calloc((rows + 1) * nc, sizeof(*cells));
	unsigned term = ctl_term_width(c);
	char text[1024];

	if (!w || !cells) {
		free(w);
		free(cells);
		return;
	}
	for (size_t j = 0; j < nc; j++) {
		cells[j] = strdup(v->cols[j].header);
		w[j] = strlen(v->cols[j].header);
	}
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < nc; j++) {
			ctl_value_text(ctl_member(json_array_get(items, i), v->cols[j].path), text,
				       sizeof(text));
			cells[(i + 1) * nc + j] = strdup(text);
			if (strlen(text) > w[j])
				w[j] = strlen(text);
		}
	if (term) {
		size_t total = 0;
		for (size_t j = 0; j < nc; j++)
			total += w[j] + (j ? 2 : 0);
		while (total > term) {
			size_t big = 0;
			for (size_t j = 1; j < nc; j++)
				if (w[j] > w[big])
					big = j;
			if (w[big] <= 6)
				break;
			w[big]--;
			total--;
		}
	}
	for (size_t i = 0; i <= rows; i++) {
		for (size_t j = 0; j < nc; j++) {
			const char *s = cells[i * nc + j] ? cells[i * nc + j] : "";
			size_t len = strlen(s);
			bool last = j + 1 == nc;
			if (len > w[j])
				printf("%.*s~", (int)(w[j] - 1), s);
			else
				printf("%s%*s", s, last ? 0 : (int)(w[j] - len), "");
			if (!last)
				fputs("  ", stdout);
		}
		fputc('\n', stdout);
	}
	for (size_t k = 0; k < (rows + 1) * nc; k++)
		free(cells[k]);
	free(cells);
	free(w);
}

int ctl_list(struct ctl *c, const char *path, const char *cursor_param, const struct ctl_view *v)
{
	json_t *all = json_array(), *page = NULL;
	char cursor[32] = "";
	bool more = true;
	int rc = CTL_OK;

	while (more) {
		struct buf url;
		unsigned want = c->page_size;
		if (c->limit && (size_t)c->limit - json_array_size(all) < want)
			want = (unsigned)((size_t)c->limit - json_array_size(all));
		buf_init(&url, 8192);
		buf_printf(&url, "%s%climit=%u", path, strchr(path, '?') ? '&' : '?', want);
		if (cursor[0])
			buf_printf(&url, "&%s=%s", cursor_param, cursor);
		rc = ctl_json(c, "GET", buf_str(&url), NULL, &page);
		buf_release(&url);
		if (rc)
			break;
		json_t *items = json_object_get(page, "items"),
		       *next = json_object_get(page, "next");
		if (!json_is_array(items)) {
			fprintf(stderr, "suitctl: GET %s: no items in the answer\n", path);
			rc = CTL_TRANSPORT;
			break;
		}
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			if (c->output == CTL_OUT_NDJSON)
				print_json(it, JSON_COMPACT);
			else if (c->quiet && c->output == CTL_OUT_TABLE) {
				char id[512];
				ctl_value_text(ctl_member(it, v->id), id, sizeof(id));
				printf("%s\n", id);
			}
			json_array_append(all, it);
		}
		fflush(stdout);
		more = json_is_string(next) && json_array_size(items) &&
		       !(c->limit && json_array_size(all) >= (size_t)c->limit);
		if (json_is_string(next))
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		else
			cursor[0] = 0;
		json_decref(page);
		page = NULL;
	}
	if (!rc && c->output == CTL_OUT_JSON) {
		json_t *doc =
			json_pack("{s:O, s:s?}", "items", all, "next", cursor[0] ? cursor : NULL);
		print_json(doc, JSON_INDENT(2));
		json_decref(doc);
	} else if (!rc && c->output == CTL_OUT_TABLE && !c->quiet) {
		print_table(c, v, all);
	}
	json_decref(all);
	return rc;
}

void ctl_show(struct ctl *c, json_t *obj, const struct ctl_view *v)
{
	char text[4096];
	const char *k;
	json_t *val;
	size_t w = 0;

	if (c->output == CTL_OUT_JSON) {
		print_json(obj, JSON_INDENT(2));
		return;
	}
	if (c->output == CTL_OUT_NDJSON) {
		print_json(obj, JSON_COMPACT);
		return;
	}
	if (c->quiet) {
		ctl_value_text(ctl_member(obj, v ? v->id : "id"), text, sizeof(text));
		printf("%s\n", text);
		return;
	}
	json_object_foreach(obj, k, val)
	{
		if (strlen(k) > w)
			w = strlen(k);
	}
	json_object_foreach(obj, k, val)
	{
		ctl_value_text(val, text, sizeof(text));
		printf("%-*s  %s\n", (int)w + 1, k, text);
	}
}
