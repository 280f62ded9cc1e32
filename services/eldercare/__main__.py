from services.eldercare.main import create_app
from services.eldercare.settings import EldercareSettings
from shared.serve import serve

settings = EldercareSettings()
serve(create_app(settings), name=settings.service_name, port=settings.port, log_level=settings.log_level)
