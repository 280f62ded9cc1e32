from services.assistance.main import create_app
from services.assistance.settings import AssistanceSettings
from shared.serve import serve

settings = AssistanceSettings()
serve(create_app(settings), name=settings.service_name, port=settings.port, log_level=settings.log_level)
