// Starts Swagger UI on /api/docs (templates/swagger_ui.html): an inline script would break the
// Content-Security-Policy, so the page passes the spec URL and OPENAPI_SWAGGER_UI_CONFIG here.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var config = Object.assign(
    { url: container.dataset.specUrl, dom_id: "#swagger-ui-container" },
    JSON.parse(container.dataset.config)
  );
  window.addEventListener("load", function () { window.ui = SwaggerUIBundle(config); });
})();
