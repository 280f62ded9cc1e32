from services.charity.main import create_app
from services.charity.settings import CharitySettings
from shared.serve import serve

settings = CharitySettings()
serve(create_app(settings), name=settings.service_name, port=settings.port, log_level=settings.log_level)
