from services.inspection import wiring
from services.inspection.settings import InspectionSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, InspectionSettings, wiring.build)
