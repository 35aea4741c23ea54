from services.routing import wiring
from services.routing.settings import RoutingSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, RoutingSettings, wiring.build)
