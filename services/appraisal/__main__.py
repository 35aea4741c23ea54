from services.appraisal import wiring
from services.appraisal.settings import AppraisalSettings
from shared.runtime.service import main

if __name__ == "__main__":
    main(wiring.SERVICE, AppraisalSettings, wiring.build)
