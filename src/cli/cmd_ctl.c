/*
 * cmd_ctl.c - `ptdm ctl PATH COMMAND ...`: the command-line client of a
 * serving process's control socket (serve_control.c).
 *
 *   ptdm ctl PATH device-add SPEC (--vfio-user SOCK | --xen-domid N
 *                 [--xen-cf8]) [--id ID]
 *   ptdm ctl PATH device-del ID
 *   ptdm ctl PATH query-devices
 *   ptdm ctl PATH trace ID on     prints the trace lines until ^C
 *   ptdm ctl PATH trace ID off
 *   ptdm ctl PATH quit
 *   ptdm ctl PATH raw JSON        one request as it is
 * --json (anywhere) prints the server's replies as they are.  Exit 0 when
 * the command succeeded, 1 when the server refused it (its "desc" on
 * stderr), 2 for bad usage.
 */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"

struct ctl {
	int fd;
	struct json_tokener *tok;
	char buf[8192];
	size_t have, at;
};

static int ctl_usage(void)
{
	fprintf(stderr, "usage: ptdm ctl PATH device-add SPEC (--vfio-user SOCK "
			"| --xen-domid N [--xen-cf8]) [--id ID]\n"
			"       ptdm ctl PATH device-del ID\n"
			"       ptdm ctl PATH query-devices\n"
			"       ptdm ctl PATH trace ID on|off\n"
			"       ptdm ctl PATH quit\n"
			"       ptdm ctl PATH raw JSON\n"
			"  --json: print the replies as JSON\n");
	return EXIT_USAGE;
}

/* The next JSON object from the server, or NULL (said why). */
static struct json_object *next_obj(struct ctl *c)
{
	for (;;) {
		while (c->at < c->have) {
			struct json_object *o;
			enum json_tokener_error e;

			if (strchr(" \t\r\n", c->buf[c->at])) {
				c->at++;
				continue;
			}
			o = json_tokener_parse_ex(c->tok, c->buf + c->at,
						  (int)(c->have - c->at));
			e = json_tokener_get_error(c->tok);
			if (e == json_tokener_continue) {
				c->at = c->have;
				break;
			}
			if (e != json_tokener_success) {
				fprintf(stderr, "ptdm ctl: the server sent "
						"something that is not JSON\n");
				return NULL;
			}
			c->at += json_tokener_get_parse_end(c->tok);
			json_tokener_reset(c->tok);
			return o;
		}
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);

		if (n < 0 && errno == EINTR)
			return NULL;
		if (n <= 0) {
			fprintf(stderr, "ptdm ctl: the server closed the "
					"connection\n");
			return NULL;
		}
		c->have = (size_t)n;
		c->at = 0;
	}
}

static int ctl_open(struct ctl *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *g;

	memset(c, 0, sizeof(*c));
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ptdm ctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "ptdm ctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	c->tok = json_tokener_new();
	g = c->tok ? next_obj(c) : NULL; /* the greeting */
	if (!g || !json_object_object_get_ex(g, "QMP", NULL)) {
		fprintf(stderr, "ptdm ctl: %s: not a ptdm control socket\n",
			path);
		json_object_put(g);
		return -1;
	}
	json_object_put(g);
	return 0;
}

static int request(struct ctl *c, struct json_object *req)
{
	const char *js = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(js) + 1, off = 0;
	char *s = malloc(len);

	if (!s)
		return -1;
	memcpy(s, js, len - 1);
	s[len - 1] = '\n'; /* one send: the server may go right after */
	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ptdm ctl: send: %s\n", strerror(errno));
			free(s);
			return -1;
		}
		off += (size_t)n;
	}
	free(s);
	return 0;
}

/* The reply (events before it are skipped); NULL on failure. */
static struct json_object *reply(struct ctl *c)
{
	for (;;) {
		struct json_object *o = next_obj(c);

		if (!o || !json_object_object_get_ex(o, "event", NULL))
			return o;
		json_object_put(o);
	}
}

static void print_devices(struct json_object *list)
{
	size_t n = json_object_array_length(list);

	printf("%-8s %-10s %-7s %-28s %-6s %s\n", "id", "front-end",
	       "backend", "where", "client", "device");
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(list, i), *v;
		const char *k[] = { "id", "front-end", "backend", "where",
				    "client-connected", "device" };
		const char *s[6];

		for (int j = 0; j < 6; j++)
			s[j] = json_object_object_get_ex(d, k[j], &v)
				       ? json_object_get_string(v) : "?";
		printf("%-8s %-10s %-7s %-28s %-6s %s\n", s[0], s[1], s[2],
		       s[3], !strcmp(s[4], "true") ? "yes" : "no", s[5]);
		if (json_object_object_get_ex(d, "counters", &v)) {
			printf("         ");
			json_object_object_foreach(v, key, val) {
				if (json_object_is_type(val, json_type_object)) {
					if (!json_object_object_length(val))
						continue;
					printf(" %s=%s", key,
					       json_object_to_json_string_ext(
						       val, JSON_C_TO_STRING_PLAIN));
				} else {
					printf(" %s=%s", key,
					       json_object_get_string(val));
				}
			}
			printf("\n");
		}
	}
}

static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
	interrupted = 1;
}

int cmd_ctl(int argc, char **argv)
{
	struct json_object *req, *args, *r = NULL, *v;
	const char *words[16];
	bool json = false, follow = false;
	int n = 0, rc = 1;
	struct ctl c;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (n < 16)
			words[n++] = argv[i];
		else
			return ctl_usage();
	}
	if (n < 2)
		return ctl_usage();
	req = json_object_new_object();
	args = json_object_new_object();
	if (!strcmp(words[1], "raw") && n == 3) {
		json_object_put(req);
		json_object_put(args);
		req = json_tokener_parse(words[2]);
		args = NULL;
		if (!req) {
			fprintf(stderr, "ptdm ctl: raw: not JSON\n");
			return EXIT_USAGE;
		}
		json = true;
	} else if (!strcmp(words[1], "device-add") && n >= 3) {
		json_object_object_add(args, "spec", json_object_new_string(words[2]));
		for (int i = 3; i < n; i++) {
			if (!strcmp(words[i], "--xen-cf8")) {
				json_object_object_add(args, "xen-cf8",
						       json_object_new_boolean(1));
			} else if (i + 1 < n && !strcmp(words[i], "--vfio-user")) {
				json_object_object_add(args, "vfio-user",
					json_object_new_string(words[++i]));
			} else if (i + 1 < n && !strcmp(words[i], "--id")) {
				json_object_object_add(args, "id",
					json_object_new_string(words[++i]));
			} else if (i + 1 < n && !strcmp(words[i], "--xen-domid")) {
				json_object_object_add(args, "xen-domid",
					json_object_new_int64(atoll(words[++i])));
			} else {
				json_object_put(req);
				json_object_put(args);
				return ctl_usage();
			}
		}
	} else if ((!strcmp(words[1], "device-del") && n == 3)) {
		json_object_object_add(args, "id", json_object_new_string(words[2]));
	} else if (!strcmp(words[1], "trace") && n == 4 &&
		   (!strcmp(words[3], "on") || !strcmp(words[3], "off"))) {
		follow = !strcmp(words[3], "on");
		json_object_object_add(args, "id", json_object_new_string(words[2]));
		json_object_object_add(args, "enable", json_object_new_boolean(follow));
	} else if ((!strcmp(words[1], "query-devices") ||
		    !strcmp(words[1], "quit")) && n == 2) {
	} else {
		json_object_put(req);
		json_object_put(args);
		return ctl_usage();
	}
	if (args) {
		json_object_object_add(req, "execute", json_object_new_string(words[1]));
		json_object_object_add(req, "arguments", args);
	}
	if (ctl_open(&c, words[0]) || request(&c, req))
		goto out;
	r = reply(&c);
	if (!r)
		goto out;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	if (json_object_object_get_ex(r, "error", &v)) {
		struct json_object *d;

		if (!json)
			fprintf(stderr, "ptdm ctl: %s\n",
				json_object_object_get_ex(v, "desc", &d)
					? json_object_get_string(d) : "refused");
		goto out;
	}
	rc = 0;
	if (!json && json_object_object_get_ex(r, "return", &v)) {
		if (!strcmp(words[1], "query-devices"))
			print_devices(v);
		else if (json_object_object_get_ex(v, "id", &args))
			printf("%s\n", json_object_get_string(args));
	}
	if (follow) { /* the trace lines, until ^C or the server goes */
		struct sigaction sa = { .sa_handler = on_int };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		setvbuf(stdout, NULL, _IOLBF, 0);
		while (!interrupted) {
			struct json_object *e = next_obj(&c), *d, *l;

			if (!e)
				break;
			if (json)
				printf("%s\n", json_object_to_json_string_ext(
						       e, JSON_C_TO_STRING_PLAIN));
			else if (json_object_object_get_ex(e, "data", &d) &&
				 json_object_object_get_ex(d, "line", &l))
				printf("%s\n", json_object_get_string(l));
			json_object_put(e);
		}
	}
out:
	json_object_put(r);
	json_object_put(req);
	if (c.fd >= 0)
		close(c.fd);
	json_tokener_free(c.tok);
	return rc;
}
