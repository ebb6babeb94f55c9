// Swagger UI over this gateway's OpenAPI document, as FastAPI's own /docs sets it up, but from
// files the gateway serves (no CDN) and without an inline script (the page's CSP allows none).
"use strict";
window.ui = window.SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // Swagger's online validator would be the one request leaving the host
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
