// Starts Swagger UI on /api/v1/docs. A file, not an inline script, so that the page's
// Content-Security-Policy can forbid inline scripts; the document's URL is in a data attribute.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  deepLinking: true,
  validatorUrl: null, // the default sends the document to validator.swagger.io
});
