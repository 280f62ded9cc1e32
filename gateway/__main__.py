from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.serve import serve

settings = GatewaySettings()
serve(create_app(settings), name="gateway", port=settings.port, log_level=settings.log_level)
