// Starts Swagger UI on the API's own OpenAPI document. Calls made from the page use the signed-in
// session, so they carry the CSRF token the page was rendered with.
(function () {
  "use strict";
  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  };
  window.SwaggerUIBundle({
    url: meta("openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (request) {
      request.headers["X-CSRFToken"] = meta("csrf-token");
      return request;
    },
  });
})();
