/*
 * vfu_version.c - vfio-user VERSION: the client's capabilities (max fds,
 * max transfer size, write_multiple) parsed from its JSON, ours sent back.
 * The JSON is optional (SPDK's client sends none: the spec's defaults
 * apply); when present it must be one strict JSON object and nothing else
 * (json-c's strict mode, the whole string consumed).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "front/vfu_priv.h"

static int cap_uint(struct json_object *caps, const char *key, uint64_t max,
		    uint64_t *out)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(caps, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max)
		return -EINVAL;
	*out = (uint64_t)x;
	return 0;
}

/* A quote outside strings: json-c's strict mode lets 'x' through. */
static bool single_quoted(const char *s, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (in_str && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			in_str = !in_str;
		else if (!in_str && s[i] == '\'')
			return true;
	}
	return false;
}

/* One JSON value in exactly len bytes: no trailing garbage, no extensions. */
static struct json_object *parse_strict(const char *s, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > INT32_MAX || single_quoted(s, len))
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && strchr(" \t\r\n", s[end]))
			end++; /* JSON allows whitespace after the value */
		if (end != len) {
			json_object_put(o);
			o = NULL;
		}
	} else if (o) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int vfu_h_version(struct vfu_conn *c, struct msg *m)
{
	struct vfu_version v;
	struct json_object *root, *caps = NULL, *wm;
	uint64_t fds = 1, xfer = VFU_SERVER_MAX_XFER;
	const char *reply;
	size_t jlen;
	int rc = 0;

	if (c->versioned)
		return -EINVAL;
	memcpy(&v, m->p, sizeof(v));
	if (v.major != VFU_MAJOR)
		return -ENOTSUP;
	jlen = m->len - sizeof(v);
	if (!jlen) {
		/*
		 * No capabilities: the defaults, one fd per message.  The one
		 * client known to do this (SPDK) mmaps sparse area i with the
		 * i-th fd of the reply, so its BARs get one area each.
		 */
		c->one_area_per_bar = true;
		goto done;
	}
	if (m->p[m->len - 1] != 0 || strlen((char *)m->p + 4) != jlen - 1)
		return -EINVAL; /* the JSON must be one NUL-terminated string */
	root = parse_strict((char *)m->p + sizeof(v), jlen - 1);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "capabilities", &caps) &&
	    !json_object_is_type(caps, json_type_object))
		rc = -EINVAL;
	if (!rc && caps) {
		rc = cap_uint(caps, "max_msg_fds", 1024, &fds);
		rc = rc ? rc : cap_uint(caps, "max_data_xfer_size", 1u << 30,
					&xfer);
		if (!rc && json_object_object_get_ex(caps, "write_multiple",
						     &wm)) {
			if (!json_object_is_type(wm, json_type_boolean))
				rc = -EINVAL;
			else
				c->write_multiple = json_object_get_boolean(wm);
		}
	}
	json_object_put(root);
	if (rc || !xfer)
		return -EINVAL;
done:
	c->peer_max_fds = (uint32_t)fds;
	c->peer_max_xfer = xfer;
	c->versioned = true;
	v.major = VFU_MAJOR;
	v.minor = VFU_MINOR;
	reply = "{\"capabilities\":{\"max_msg_fds\":8,"
		"\"max_data_xfer_size\":1048576,\"max_dma_maps\":4096,"
		"\"pgsizes\":4096,\"write_multiple\":true}}";
	memcpy(m->r, &v, sizeof(v));
	memcpy(m->r + sizeof(v), reply, strlen(reply) + 1);
	m->rlen = (uint32_t)(sizeof(v) + strlen(reply) + 1);
	return 0;
}
