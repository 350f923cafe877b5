// Package plugin is argo-eci's Argo executor plugin: the HTTP server behind `argo-eci plugin`, which
// runs as the sidecar of Argo's agent pod and answers POST /api/v1/template.execute for templates of
// the form `plugin: {argo-eci: {dataset: ...}}` or `plugin: {argo-eci: {imageCache: ...}}`.
//
// The server checks the agent's bearer token in constant time, caps request bodies, recovers
// panics, decodes the request into Argo's own types (executor.ExecuteTemplateArgs), decodes the
// argo-eci object strictly (unknown or duplicate fields and wrong types are errors that name the
// field), validates it, and dispatches to a DatasetWarmer (dataset.Manager) or an ImageCacher
// (imagecache.Manager). Reply is the one place that turns an outcome into the agent's protocol;
// see its comment for the table. The request carries no node ID, so the workers key their objects
// on the workflow UID and the template content.
package plugin
