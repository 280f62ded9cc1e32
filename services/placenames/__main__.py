from services.placenames.main import create_app
from services.placenames.settings import PlacenamesSettings
from shared.serve import serve

settings = PlacenamesSettings()
serve(create_app(settings), name=settings.service_name, port=settings.port, log_level=settings.log_level)
