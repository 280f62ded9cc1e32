from services.eldercare.main import create_app
from services.eldercare.settings import EldercareSettings
from shared.serve import serve

settings = EldercareSettings()
app = create_app(settings)
# Build the OpenAPI document before serving: with ~75 routes it takes a second or more, longer than the
# gateway waits when it first merges the services' documents.
app.openapi()
serve(app, name=settings.service_name, port=settings.port, log_level=settings.log_level)
