"""D-DOS sampling campaigns: the run file (:mod:`.campaign_config`), references and Hessians
(:mod:`.references`), seeded chunk tasks (:mod:`.tasks`) on uniform harmonic-energy shells (:mod:`.shells`),
mergeable sketches (:mod:`.sketch`), the resumable store and its journal (:mod:`.campaign_store`,
:mod:`.campaign_journal`), growth of a campaign (:mod:`.campaign_growth`), the driver (:mod:`.campaign`), and
tilted shells (:mod:`.tilted`, :mod:`.tilt_campaign`)."""
