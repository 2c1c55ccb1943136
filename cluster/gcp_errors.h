/* cluster/gcp_errors.h - errors that teach: the five failures a real
 * project hits most (quota, an API disabled, a permission missing, an
 * organization policy constraint, a CIDR overlap) recognised from Google's
 * error shape and turned into the cause and the command that fixes it.
 *
 * One mapping over {"error": {"code", "status", "message", "errors":
 * [{"reason"}], "details": [{"reason", "metadata"}]}}: the README's table
 * of errors is this function's table.
 */
#ifndef MESHVM_CLUSTER_GCP_ERRORS_H
#define MESHVM_CLUSTER_GCP_ERRORS_H

#include <stddef.h>

#include "core/err.h"

enum gcp_error_kind {
	GCP_ERR_OTHER = 0,
	GCP_ERR_QUOTA,
	GCP_ERR_API_DISABLED,
	GCP_ERR_PERMISSION,
	GCP_ERR_ORG_POLICY,
	GCP_ERR_CIDR_OVERLAP,
};

/* Classify one error: status ("PERMISSION_DENIED"), reason (errors[0] or
 * details' ErrorInfo), message; any may be NULL.  When it is one of the
 * five, write "cause: ...\nfix: ..." into buf (project and url, the call's
 * URL, fill in the command) and return its kind; else GCP_ERR_OTHER and
 * buf "". */
enum gcp_error_kind gcp_error_hint(const char *project, const char *url,
                                   const char *status, const char *reason,
                                   const char *message, char *buf,
                                   size_t len);

/* The same over a response body (Google's JSON error), appending the hint
 * to err's message as indented lines.  Nothing happens for other errors
 * or a body that is not Google's shape. */
enum gcp_error_kind gcp_error_teach(struct mv_err *err, const char *project,
                                    const char *url, const char *body,
                                    size_t len);

/* The same for a long-running operation that ended in an error: `link`
 * is its targetLink or selfLink (the project and location come from it),
 * `code` a google.rpc.Code (GKE) or 0, `reason` Compute's errors[].code. */
enum gcp_error_kind gcp_error_teach_op(struct mv_err *err, const char *link,
                                       int code, const char *reason,
                                       const char *message);

#endif
